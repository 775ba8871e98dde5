"""Custom function tools in Vapi's function-tool shape: an assistant's inline
``tools_settings.custom_tools`` entries and the Tool resource, stored once and referenced
by assistants' ``tool_ids``. Both are validated as ``CustomTool`` (``parse_custom_tools``
names every bad field); a call runs each as the engine's ``WebhookTool``
(``CustomTool.for_call``). The other models document the Tool bodies and the response."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import httpx
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from callwright.domain.validation import summary, validation_details
from callwright.engine.tools import (
    BUILTIN_TOOL_NAMES,
    VAPI_SECRET_HEADER,
    ToolEndpoint,
    WebhookTool,
)
from callwright.errors import ValidationFailed
from callwright.providers.protocols import ToolSpec
from callwright.security.outbound import OUTBOUND_URL
from callwright.security.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER

__all__ = [
    "CustomTool",
    "ToolFunction",
    "ToolFunctionOut",
    "ToolIn",
    "ToolPatch",
    "ToolResponse",
    "ToolServer",
    "ToolServerOut",
    "parse_custom_tools",
]

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
# Set by the executor; a configured header must not forge or break them.
_RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "host", "transfer-encoding", "connection"}
    | {"accept-encoding", SIGNATURE_HEADER.lower(), TIMESTAMP_HEADER.lower()}
    | {VAPI_SECRET_HEADER.lower()}
)


def _http_url(value: str) -> str:
    # Which schemes and hosts may be called is the outbound-URL policy's to say, when
    # the tool is saved and again when it is called (security.outbound).
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a valid URL: {exc}") from exc
    if url.host and url.scheme in ("https", "http"):
        return value
    raise ValueError("must be an absolute https:// URL")


def _plain_headers(value: dict[str, str]) -> dict[str, str]:
    for name, text in value.items():
        if not _HEADER_NAME.match(name) or any(char in text for char in "\r\n\0"):
            raise ValueError(f"{name!r} is not a valid header name and value")
        if name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"{name!r} is set by callwright and cannot be configured")
    return value


def _not_builtin(value: str) -> str:
    if value in BUILTIN_TOOL_NAMES:
        raise ValueError(f"{value!r} is a built-in tool; configure tools_settings.{value}")
    return value


def _object_schema(value: dict[str, Any]) -> dict[str, Any]:
    if value.get("type", "object") != "object":
        raise ValueError('must be a JSON Schema with "type": "object"')
    return value


_ToolName = Annotated[
    str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]{1,64}$"), AfterValidator(_not_builtin)
]
_Secret = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
_Headers = Annotated[
    dict[str, Annotated[str, StringConstraints(max_length=4096)]], AfterValidator(_plain_headers)
]


class ToolServer(BaseModel):
    """Where the ``tool-calls`` webhook goes (Vapi's ``server``). Other Vapi fields
    (``credentialId``, ``backoffPlan``...) are accepted but not used."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    url: Annotated[str, StringConstraints(max_length=2048), AfterValidator(_http_url), OUTBOUND_URL]
    secret: _Secret | None = Field(None, repr=False)
    timeout_seconds: float = Field(20, ge=1, le=120, alias="timeoutSeconds")
    headers: _Headers = Field(default_factory=dict, repr=False, max_length=50)


class ToolFunction(BaseModel):
    """What the model sees: a name by OpenAI's rules, a JSON Schema object."""

    model_config = ConfigDict(extra="allow")

    name: _ToolName
    description: Annotated[str, StringConstraints(max_length=10_000)] = ""
    parameters: Annotated[dict[str, Any], AfterValidator(_object_schema)] = Field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )


class CustomTool(BaseModel):
    """One ``custom_tools`` entry. Unknown Vapi fields are accepted and echoed to the tool
    server; ``async`` and ``messages`` are the engine's to honour (the executor always
    waits for the reply)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: Literal["function"] = "function"
    function: ToolFunction
    server: ToolServer
    is_async: bool = Field(False, alias="async")
    messages: list[dict[str, Any]] = Field(default_factory=list, max_length=20)

    @property
    def name(self) -> str:
        return self.function.name

    def public_config(self) -> dict[str, Any]:
        """The tool as its server sees it: without the server's secret and headers."""
        return self.model_dump(
            mode="json", by_alias=True, exclude={"server": {"secret", "headers"}}
        )

    def for_call(self) -> WebhookTool:
        """The tool as the engine runs it during a call."""
        function, server = self.function, self.server
        return WebhookTool(
            spec=ToolSpec(function.name, function.description, function.parameters),
            server=ToolEndpoint(
                server.url, server.secret, server.timeout_seconds, dict(server.headers)
            ),
            public_config=self.public_config(),
        )


def parse_custom_tools(raw: Sequence[Any]) -> list[CustomTool]:
    """Validate ``tools_settings.custom_tools``; ``ValidationFailed`` names every bad
    field as ``tools_settings.custom_tools[i].<field>``."""
    tools: list[CustomTool] = []
    errors: list[dict[str, Any]] = []
    first_index: dict[str, int] = {}
    for index, entry in enumerate(raw):
        where = ("tools_settings", "custom_tools", index)
        try:
            tool = CustomTool.model_validate(entry)
        except ValidationError as exc:
            errors += [{**error, "loc": (*where, *error["loc"])} for error in exc.errors()]
            continue
        if tool.name in first_index:
            message = f"duplicates the name of custom_tools[{first_index[tool.name]}]"
            errors.append(
                {"loc": (*where, "function", "name"), "msg": message, "type": "duplicate"}
            )
        first_index.setdefault(tool.name, index)
        tools.append(tool)
    if errors:
        details = validation_details(errors)
        raise ValidationFailed(summary(details), details=details)
    return tools


class ToolIn(CustomTool):
    """Body of create (POST): a Vapi function tool. ``server.secret`` and credential
    headers (``Authorization``, ``X-Api-Key`` …) are encrypted at rest and masked."""


class ToolPatch(BaseModel):
    """Body of PATCH: only the fields sent change; ``function`` and ``server`` merge,
    ``server.headers``, ``parameters`` and ``messages`` are replaced. The service merges
    the raw body into the stored tool and validates the result as a ``ToolIn``."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: Literal["function"] | None = None
    function: dict[str, Any] | None = None
    server: dict[str, Any] | None = None
    is_async: bool | None = Field(None, alias="async")
    messages: list[dict[str, Any]] | None = None


class ToolFunctionOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    description: str
    parameters: dict[str, Any]


class ToolServerOut(BaseModel):
    """The webhook target; ``secret`` and credential header values are masked."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    url: str
    secret: str | None
    timeout_seconds: float = Field(alias="timeoutSeconds")
    headers: dict[str, str]


class ToolResponse(BaseModel):
    """A stored tool: the Vapi function-tool object plus identity and timestamps."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: int
    organization_id: int
    user_id: int | None
    type: Literal["function"]
    function: ToolFunctionOut
    server: ToolServerOut
    is_async: bool = Field(alias="async")
    messages: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
