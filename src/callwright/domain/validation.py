"""Turn pydantic validation errors into ``ValidationFailed`` naming each bad field."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from callwright.errors import ValidationFailed

__all__ = ["field_path", "validate_as", "validation_details"]

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
