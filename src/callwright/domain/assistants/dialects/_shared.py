"""Pieces every dialect needs: timestamps, typed reads of foreign payloads, the
speech-to-text provider rule, and a builder that turns an import into a canonical body
whose validation errors name the dialect's fields rather than callwright's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from pydantic import BaseModel, ConfigDict

from callwright.domain.assistants.schemas import AssistantIn
from callwright.domain.secrets import is_secret_key, looks_masked
from callwright.domain.validation import validate_as
from callwright.errors import ValidationFailed
from callwright.providers.vendors import CATALOG, stt_cloud_vendor

__all__ = [
    "CanonicalBuilder",
    "DialectModel",
    "SttProvider",
    "expect_bool",
    "expect_list",
    "expect_object",
    "expect_str",
    "fail",
    "ids_from_strings",
    "iso_timestamp",
    "lookup",
    "stt_model_on_import",
    "unwrap_data",
]

# The cloud transcribers the catalog lists (providers.vendors).
if TYPE_CHECKING:
    SttProvider = str
else:
    SttProvider = Literal[CATALOG.names("stt", offline=False)]
# Vapi's real API spells AssemblyAI with a dash; accept both on import.
_STT_PROVIDER_ALIASES = {"assembly-ai": "assemblyai"}
# The model a provider gets when an import names the provider but no model.
_STT_DEFAULT_MODELS: dict[str, str] = {"whisper": "whisper-1", "assemblyai": "universal-streaming"}


class DialectModel(BaseModel):
    """Base of the rendered shapes: exactly the documented fields, nothing more."""

    model_config = ConfigDict(extra="forbid")


def iso_timestamp(value: datetime | str) -> str:
    """ISO-8601 in UTC with a ``Z``; naive values are UTC (that is how they are stored)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def fail(field: str, message: str, kind: str = "value_error") -> NoReturn:
    raise ValidationFailed(
        f"invalid value for {field}: {message}",
        details=[{"field": field, "message": message, "type": kind}],
    )


def expect_object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        fail(field, "must be an object", "dict_type")
    return value


def expect_list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        fail(field, "must be an array", "list_type")
    return value


def expect_str(value: Any, field: str) -> str:
    if not isinstance(value, str):
        fail(field, "must be a string", "string_type")
    return value


def expect_bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        fail(field, "must be a boolean", "bool_type")
    return value


def lookup(payload: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """Follow a dotted path; ``(False, None)`` when it is absent or a parent is null."""
    node: Any = payload
    walked: list[str] = []
    for key in path.split("."):
        if walked:
            if node is None:
                return False, None
            node = expect_object(node, ".".join(walked))
        if key not in node:
            return False, None
        node = node[key]
        walked.append(key)
    return True, node


def unwrap_data(payload: Any) -> dict[str, Any]:
    """Accept a whole ``{success, data}`` response or just its ``data`` object."""
    body = expect_object(payload, "body")
    if "data" in body:
        return expect_object(body["data"], "data")
    return body


def ids_from_strings(values: Any, field: str) -> list[int]:
    """Foreign ids are strings; ours are positive integers written as digits."""
    ids = []
    for index, value in enumerate(expect_list(values, field)):
        if not (isinstance(value, str) and value.isascii() and value.isdigit()):
            fail(f"{field}[{index}]", "must be a callwright tool id (a string of digits)")
        ids.append(int(value))
    return ids


def stt_model_on_import(
    provider: Any, model: tuple[bool, Any], provider_field: str, model_field: str
) -> tuple[bool, Any]:
    """The STT model to store for an imported (provider, model) pair.

    ``model`` is ``(present, value)``. The provider itself is not stored, so a model that
    implies another provider is refused: keeping it would silently switch vendors.
    """
    name = _STT_PROVIDER_ALIASES.get(expect_str(provider, provider_field), provider)
    supported = CATALOG.names("stt", offline=False)
    if name not in supported:
        listed = f"{', '.join(supported[:-1])} or {supported[-1]}"
        fail(provider_field, f"{name!r} is not supported; use {listed}")
    present, value = model
    if value is None and name in _STT_DEFAULT_MODELS:
        return True, _STT_DEFAULT_MODELS[name]
    if value is not None and stt_cloud_vendor(expect_str(value, model_field)) != name:
        fail(model_field, f"model {value!r} does not belong to provider {name!r}")
    return present, value


def _drop_masked(document: Any) -> Any:
    # A mask is not a secret: storing it would overwrite a real key with asterisks.
    if isinstance(document, dict):
        return {
            key: _drop_masked(value)
            for key, value in document.items()
            if not (isinstance(value, str) and is_secret_key(key) and looks_masked(value))
        }
    if isinstance(document, list):
        return [_drop_masked(item) for item in document]
    return document


class CanonicalBuilder:
    """Collects a sparse canonical body, remembering which dialect field fed each path
    so that a validation error can name the field the client actually sent."""

    def __init__(self, static_sources: Mapping[str, str]) -> None:
        self.body: dict[str, Any] = {}
        # Static sources name fields that may be missing (``name`` is required).
        self._sources: dict[str, str] = dict(static_sources)

    def put(self, path: str, value: Any, source: str) -> None:
        *parents, leaf = path.split(".")
        node = self.body
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
        self._sources[path] = source

    def put_secret(self, path: str, value: Any, source: str) -> None:
        """Store a secret unless it is null or a mask: an export carries only the mask,
        and a mask is not a key."""
        if value is None or (isinstance(value, str) and looks_masked(value)):
            return
        self.put(path, value, source)

    def copy(self, payload: Mapping[str, Any], source: str, path: str) -> None:
        """Put the value at dialect path ``source`` into canonical ``path`` if present."""
        present, value = lookup(payload, source)
        if present:
            self.put(path, value, source)

    def _dialect_field(self, canonical: str) -> str:
        # Longest canonical prefix fed by a dialect field; list indices carry over.
        for prefix in sorted(self._sources, key=len, reverse=True):
            if canonical == prefix or canonical.startswith((f"{prefix}.", f"{prefix}[")):
                return self._sources[prefix] + canonical[len(prefix) :]
        return canonical

    def validated(self) -> dict[str, Any]:
        """The body as a valid ``AssistantIn`` (only the fields sent), or a
        ``ValidationFailed`` naming dialect fields."""
        try:
            model = validate_as(AssistantIn, _drop_masked(self.body))
        except ValidationFailed as exc:
            details = [
                {
                    "field": self._dialect_field(detail["field"]),
                    "message": detail["message"],
                    "type": detail["type"],
                }
                for detail in exc.details
            ]
            fields = ", ".join(sorted({d["field"] or "body" for d in details}))
            raise ValidationFailed(f"invalid value for {fields}", details=details) from exc
        return model.model_dump(mode="json", exclude_unset=True)
