"""What each LLM cannot do with ``llm_settings`` (and the tools), so that a setting it
drops is named, by ``POST /validate`` and in the call record's provider notes, instead
of only a log line (as ``tts.voice_settings`` does for voices). The adapters drop by
the same rules, from here: one source for what is sent and what is said.

- Anthropic: no sampling settings (the API version the SDK speaks refuses them) and
  no penalties.
- Gemini: penalties on ``gemini-2.0`` models only; five stop sequences.
- OpenAI itself (not a compatible server): its reasoning models (o1, o3, o4, gpt-5)
  take no sampling settings and no stop sequences; four stop sequences.
- The offline model (llama.cpp) is offered no tools.

Only settings changed from their defaults are named: a default asks for nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

__all__ = [
    "ANTHROPIC_DROPPED",
    "DEFAULTS",
    "GEMINI_DEFAULT_MODEL",
    "GEMINI_MAX_STOP",
    "GEMINI_PENALTY_MODELS",
    "OPENAI_HOST",
    "OPENAI_MAX_STOP",
    "PENALTIES",
    "SAMPLING",
    "is_openai_reasoning_model",
    "unsupported_llm_settings",
]

SAMPLING: Final = ("temperature", "top_p", "frequency_penalty", "presence_penalty")
PENALTIES: Final = ("frequency_penalty", "presence_penalty")
ANTHROPIC_DROPPED: Final = SAMPLING
GEMINI_MAX_STOP: Final = 5
GEMINI_PENALTY_MODELS: Final = ("gemini-2.0",)
GEMINI_DEFAULT_MODEL: Final = "gemini-2.5-flash"
OPENAI_HOST: Final = "api.openai.com"
OPENAI_MAX_STOP: Final = 4
_OPENAI_REASONING_PREFIXES: Final = ("o1", "o3", "o4", "gpt-5")

# Each setting's default in the resource (llm_settings).
DEFAULTS: Final[dict[str, Any]] = {
    "temperature": 0.5,
    "top_p": 1,
    "frequency_penalty": 0,
    "presence_penalty": 0,
}


def is_openai_reasoning_model(model: str) -> bool:
    return model.startswith(_OPENAI_REASONING_PREFIXES) and "chat" not in model


def unsupported_llm_settings(
    vendor: str, model: str | None, base_url: str | None, document: Mapping[str, Any]
) -> list[str]:
    """The settings of the assistant ``document`` (canonical JSON) that the LLM
    ``vendor`` asked for ``model`` at ``base_url`` drops, as their field paths."""
    llm = document.get("llm_settings") or {}
    changed = [name for name in SAMPLING if llm.get(name, DEFAULTS[name]) != DEFAULTS[name]]
    stops = len(llm.get("stop_sequences") or ())
    named: list[str] = []
    if vendor == "anthropic":
        named += [name for name in changed if name in ANTHROPIC_DROPPED]
    elif vendor == "gemini":
        gemini_model = (model or GEMINI_DEFAULT_MODEL).removeprefix("models/")
        if not gemini_model.startswith(GEMINI_PENALTY_MODELS):
            named += [name for name in changed if name in PENALTIES]
        if stops > GEMINI_MAX_STOP:
            named.append(f"stop_sequences after the first {GEMINI_MAX_STOP}")
    elif vendor == "openai" and (base_url is None or urlsplit(base_url).hostname == OPENAI_HOST):
        if model is not None and is_openai_reasoning_model(model):
            named += changed + (["stop_sequences"] if stops else [])
        elif stops > OPENAI_MAX_STOP:
            named.append(f"stop_sequences after the first {OPENAI_MAX_STOP}")
    elif vendor == "local" and _offers_tools(document):
        return ["tools_settings (the offline model calls no tools)"]
    return [f"llm_settings.{name}" for name in named]


def _offers_tools(document: Mapping[str, Any]) -> bool:
    tools = document.get("tools_settings") or {}
    return bool(
        (tools.get("end_call") or {}).get("enabled")
        or (tools.get("transfer_call") or {}).get("enabled")
        or tools.get("custom_tools")
        or tools.get("enabled_tools")
        or document.get("tool_ids")
    )
