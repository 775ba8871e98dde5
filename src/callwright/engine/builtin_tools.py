"""The built-in tools the model may be offered, and which tools a call offers.

``tools_settings.enabled_tools`` names tools the product knows: the built-ins below
and the assistant's custom tools. A built-in is offered when enabled by its own
settings (``end_call.enabled``, ``transfer_call.enabled``) or named in the list;
``send_dtmf`` and ``search_knowledge`` only when named. Custom tools are all offered
while the list names none of them, and only the named ones once it names any."""

from __future__ import annotations

from callwright.engine.config import CallConfig
from callwright.providers.protocols import ToolSpec

__all__ = [
    "BUILTIN_TOOL_NAMES",
    "END_CALL",
    "SEARCH_KNOWLEDGE",
    "SEND_DTMF",
    "TRANSFER_CALL",
    "builtin_tool_specs",
    "offered_tools",
]

END_CALL = "end_call"
TRANSFER_CALL = "transfer_call"
SEND_DTMF = "send_dtmf"
SEARCH_KNOWLEDGE = "search_knowledge"
BUILTIN_TOOL_NAMES = frozenset({END_CALL, TRANSFER_CALL, SEND_DTMF, SEARCH_KNOWLEDGE})

_SEND_DTMF_SPEC = ToolSpec(
    SEND_DTMF,
    "Press keys on the phone keypad, to navigate an automated menu (IVR) or enter a "
    "number it asks for. The keys are played as touch tones into the call.",
    {
        "type": "object",
        "properties": {
            "digits": {
                "type": "string",
                "pattern": "^[0-9*#A-Dw]{1,64}$",
                "description": "The keys in order: 0-9, * and #; w waits half a second.",
            }
        },
        "required": ["digits"],
    },
)
_SEARCH_KNOWLEDGE_SPEC = ToolSpec(
    SEARCH_KNOWLEDGE,
    "Search the knowledge base for passages that answer a question. Use it before "
    "answering a question about facts you were not given.",
    {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What to look for, in a few words."}
        },
        "required": ["query"],
    },
)


def builtin_tool_specs(config: CallConfig, *, can_search: bool = False) -> tuple[ToolSpec, ...]:
    """The built-in tools the call offers, with their scenarios; ``search_knowledge``
    only when the call has a knowledge retriever (``can_search``)."""
    specs: list[ToolSpec] = []
    end_call = config.end_call_tool
    if end_call.enabled:
        when = "; ".join(end_call.scenarios) or "the conversation is over"
        specs.append(
            ToolSpec(
                END_CALL,
                f"End the call. Use it when: {when}.",
                {"type": "object", "properties": {}},
            )
        )
    transfer = config.transfer_tool
    if transfer.enabled:
        when = "; ".join(transfer.scenarios) or "the caller asks for a person"
        specs.append(
            ToolSpec(
                TRANSFER_CALL,
                f"Transfer the call to a person. Use it when: {when}.",
                {
                    "type": "object",
                    "properties": {
                        "destination": {"type": "string", "enum": list(transfer.numbers)}
                    },
                    "required": ["destination"],
                },
            )
        )
    if SEND_DTMF in config.enabled_tools:
        specs.append(_SEND_DTMF_SPEC)
    if SEARCH_KNOWLEDGE in config.enabled_tools and can_search:
        specs.append(_SEARCH_KNOWLEDGE_SPEC)
    return tuple(specs)


def offered_tools(
    config: CallConfig, custom: tuple[ToolSpec, ...], *, can_search: bool
) -> tuple[ToolSpec, ...]:
    """Every tool the model is offered on this call: the built-ins enabled, then the
    custom tools ``enabled_tools`` lets through."""
    named = config.enabled_tools - BUILTIN_TOOL_NAMES
    if named:
        custom = tuple(spec for spec in custom if spec.name in named)
    return builtin_tool_specs(config, can_search=can_search) + custom
