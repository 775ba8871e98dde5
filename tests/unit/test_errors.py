"""The one error tree: every exception class callwright defines is drawn in
``callwright.errors``' docstring and is a ``CallwrightError`` (but the one documented
exception); each renders as its status and code, a misconfigured server as a bare 500."""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

import callwright
from callwright import errors
from callwright.api.errors import install_error_handlers
from callwright.errors import CallwrightError, InternalError, NotFound
from callwright.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderTimeout,
    ProviderUnavailable,
)
from callwright.security.crypto import SecretDecryptionError
from callwright.settings import SettingsError
from callwright.store.migrate import DatabaseNotMigrated

SOURCE = Path(callwright.__file__).parent
BUILTIN_EXCEPTIONS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}
# A ValueError that each caller translates (it never reaches an error handler).
NOT_CALLWRIGHT_ERRORS = {"OutboundRefused"}


def _classes() -> dict[str, set[str]]:
    """Every class defined in the package, by name, with its bases' last name parts."""
    classes: dict[str, set[str]] = {}
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases}
                classes.setdefault(node.name, set()).update(bases)
    return classes


def _descendants(classes: dict[str, set[str]], roots: set[str]) -> set[str]:
    found = set(roots)
    while True:
        more = {name for name, bases in classes.items() if bases & found} - found
        if not more:
            return found - roots
        found |= more


def test_every_error_class_is_in_the_tree_and_under_its_root() -> None:
    classes = _classes()
    foreign = {  # other libraries' exceptions subclassed here
        base
        for bases in classes.values()
        for base in bases
        if base.endswith(("Error", "Exception")) and base not in classes
    }
    exceptions = {
        name
        for name in _descendants(classes, BUILTIN_EXCEPTIONS | foreign)
        if not name.startswith("_")  # private control flow never leaves its module
    }
    under_root = _descendants(classes, {"CallwrightError"}) | {"CallwrightError"}
    assert {"ProviderTimeout", "SettingsError", "MalformedJson"} <= exceptions
    assert exceptions - under_root == NOT_CALLWRIGHT_ERRORS
    tree = errors.__doc__ or ""
    assert [name for name in sorted(exceptions) if name not in tree] == []


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ProviderError("openai", "boom"), "provider_error"),
        (ProviderTimeout("openai", "boom"), "provider_timeout"),
        (ProviderAuthError("openai", "boom"), "provider_auth_failed"),
        (ProviderRateLimited("openai", "boom", 3.0), "provider_rate_limited"),
        (ProviderUnavailable("openai", "boom"), "provider_unavailable"),
        (ProviderRequestError("openai", "boom"), "provider_request_refused"),
    ],
)
def test_provider_errors_are_502s_naming_the_provider(error: ProviderError, code: str) -> None:
    assert isinstance(error, CallwrightError)
    assert (error.status_code, error.code) == (502, code)
    assert (error.provider, error.message, str(error)) == ("openai", "boom", "openai: boom")
    assert error.body() == {"error": "openai: boom", "code": code, "details": []}


@pytest.mark.parametrize("kind", [SettingsError, DatabaseNotMigrated, SecretDecryptionError])
def test_a_misconfigured_server_is_an_internal_error(kind: type[InternalError]) -> None:
    error = kind("something is off")
    assert isinstance(error, InternalError)
    assert not isinstance(error, RuntimeError)
    assert error.status_code == 500


_UNREACHABLE = "a service this server needs (the database) is unreachable: retry shortly"


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    raised: dict[str, Exception] = {
        "provider": ProviderAuthError("deepgram", "invalid credentials"),
        "secret": SecretDecryptionError("was CALLWRIGHT_SECRET_KEY changed?"),
        "missing": NotFound("assistant 7 not found"),
        # The database away (found by benchmarks/soak.py: Twilio's voice webhook got a
        # 500 while PostgreSQL was cut): a refused connect, a connection lost mid-query.
        "refused": ConnectionRefusedError(111, "Connection refused"),
        "dropped": DBAPIError("SELECT 1", {}, OSError("reset"), connection_invalidated=True),
        "sql": DBAPIError("SELECT nope", {}, ValueError("syntax error")),
    }

    @app.get("/raise/{which}")
    async def raise_(which: str) -> None:
        raise raised[which]

    return app


@pytest.mark.parametrize(
    ("which", "status", "body"),
    [
        (
            "provider",
            502,
            {"error": "deepgram: invalid credentials", "code": "provider_auth_failed"},
        ),
        ("secret", 500, {"error": "internal server error", "code": "internal_error"}),
        ("missing", 404, {"error": "assistant 7 not found", "code": "not_found"}),
        ("refused", 503, {"error": _UNREACHABLE, "code": "service_unavailable"}),
        ("dropped", 503, {"error": _UNREACHABLE, "code": "service_unavailable"}),
        ("sql", 500, {"error": "internal server error", "code": "internal_error"}),
    ],
)
async def test_errors_render_as_their_status_and_code(
    which: str, status: int, body: dict[str, str]
) -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get(f"/raise/{which}")
    assert response.status_code == status
    assert response.json() == {**body, "details": []}
    if status == 503:
        assert response.headers["retry-after"] == "5"
