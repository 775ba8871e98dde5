"""Turn pydantic validation errors into ``ValidationFailed`` naming each bad field, and
check every URL a resource asks the server to call against the outbound-URL policy."""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from callwright.errors import ValidationFailed
from callwright.security.outbound import OUTBOUND_URL, OutboundPolicy, OutboundRefused

__all__ = [
    "check_outbound_urls",
    "field_path",
    "outbound_urls",
    "validate_as",
    "validation_details",
]

ModelT = TypeVar("ModelT", bound=BaseModel)


_REQUEST_PARTS = frozenset({"body", "query", "path", "header", "cookie"})


def field_path(location: Sequence[int | str]) -> str:
    """``["body", "llm_settings", "temperature"]`` -> ``llm_settings.temperature``."""
    if location and location[0] in _REQUEST_PARTS and len(location) > 1:
        location = location[1:]
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def validation_details(errors: Iterable[Any]) -> list[dict[str, Any]]:
    """One entry per bad field: dotted ``field``, ``message``, pydantic ``type``, ``loc``."""
    details = []
    for error in errors:
        location = [part for part in error.get("loc", ()) if isinstance(part, int | str)]
        details.append(
            {
                "field": field_path(location),
                "message": str(error.get("msg", "invalid value")),
                "type": str(error.get("type", "value_error")),
                "loc": location,
            }
        )
    return details


def summary(details: list[dict[str, Any]]) -> str:
    fields = ", ".join(sorted({d["field"] or "body" for d in details}))
    return f"invalid value for {fields}" if fields else "invalid request"


def validate_as(model: type[ModelT], data: Any) -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = validation_details(exc.errors(include_url=False))
        raise ValidationFailed(summary(details), details=details) from exc


def outbound_urls(
    value: Any, location: tuple[int | str, ...] = ()
) -> Iterator[tuple[tuple[int | str, ...], str]]:
    """Every URL in a validated model that its schema marks with ``OUTBOUND_URL``
    (nested models, lists and maps included), with where it is."""
    if isinstance(value, BaseModel):
        marked = _marked_fields(type(value))
        for name in type(value).model_fields:
            yield from _urls_in(getattr(value, name), (*location, name), name in marked)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from outbound_urls(item, (*location, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from outbound_urls(item, (*location, str(key)))


def _urls_in(
    value: Any, location: tuple[int | str, ...], marked: bool
) -> Iterator[tuple[tuple[int | str, ...], str]]:
    if marked and isinstance(value, str):
        yield location, value
    elif marked and isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _urls_in(item, (*location, index), marked)
    else:
        yield from outbound_urls(value, location)


@functools.cache
def _marked_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(
        name
        for name, info in model.model_fields.items()
        if OUTBOUND_URL in info.metadata or _has_marker(info.annotation)
    )


def _has_marker(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *metadata = typing.get_args(annotation)
        return OUTBOUND_URL in metadata or _has_marker(base)
    if origin in (typing.Union, types.UnionType, list, tuple):
        return any(_has_marker(arg) for arg in typing.get_args(annotation))
    return False


def check_outbound_urls(
    model: BaseModel,
    policy: OutboundPolicy,
    *,
    at: Sequence[int | str] = (),
    also: Iterable[tuple[tuple[int | str, ...], str]] = (),
) -> None:
    """``ValidationFailed`` naming each URL in ``model`` (at ``at`` in the request
    body), and each of ``also`` (URLs inside free-form settings), that the outbound-URL
    policy refuses: the scheme, a literal internal address, a loopback name. Names are
    resolved, and checked again, when the server connects."""
    details = []
    found = [((*at, *location), url) for location, url in outbound_urls(model)]
    for location, url in [*found, *also]:
        try:
            policy.check_url(url)
        except OutboundRefused as exc:
            details.append(
                {
                    "field": field_path(location),
                    "message": str(exc),
                    "type": "outbound_url",
                    "loc": ["body", *location],
                }
            )
    if details:
        raise ValidationFailed(summary(details), details=details)
