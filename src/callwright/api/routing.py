"""The route class every router uses: JSON bodies are checked for values that no
database can store before any handler sees them.

JSON parsers allow ``\\u0000``, lone surrogates (``\\ud800``), ``NaN`` and numbers
that overflow to infinity (``1e400``); PostgreSQL accepts none of them (a lone
surrogate is not even encodable as UTF-8, and strict JSON has no NaN). Refusing them
here, once, as a 400 naming where they are, keeps every column and document safe.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

__all__ = ["CallwrightRoute", "find_unstorable_text"]


def _unstorable(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def find_unstorable_text(value: Any, path: str = "body") -> str | None:
    """The path of the first string (or key) holding NUL or a lone surrogate, or of
    the first number that is not finite."""
    if isinstance(value, str):
        return path if _unstorable(value) else None
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}"
            if _unstorable(key):
                return f"{path} (a key)"
            found = find_unstorable_text(item, child)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_unstorable_text(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _refuse_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not JSON", "", 0)


class _CheckedJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            document = json.loads(body, parse_constant=_refuse_constant)
            where = find_unstorable_text(document)
            if where is not None:
                # FastAPI turns a JSONDecodeError into its json_invalid validation error.
                raise json.JSONDecodeError(
                    f"{where} holds a NUL character, an unpaired surrogate or a "
                    "number out of range",
                    "",
                    0,
                )
            self._json = document
        return self._json


class CallwrightRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            return await handler(_CheckedJsonRequest(request.scope, request.receive))

        return checked
