"""``POST /api/v1/assistants/{id}/validate``: can every provider the assistant
configures serve a call as configured? A missing key is reported here, naming where it
may be set, instead of surfacing mid-call as an offline stand-in or a failed turn.

The report covers a realtime assistant's speech-to-speech model alone (it serves the
whole call), else the primary LLM and each enabled fallback, the transcriber, the
voice, the embeddings when retrieval is enabled, and Twilio for each number assigned
to the assistant. Keys resolve exactly as at call time (``resolution``); a check never
shows a value, only where it came from.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.assistants.schemas import AssistantFields
from callwright.domain.assistants.service import AssistantService, StoredAssistant
from callwright.domain.principal import Principal
from callwright.providers.llm.settings_support import unsupported_llm_settings
from callwright.providers.realtime.settings import (
    setting_problems,
    unsupported_realtime_settings,
)
from callwright.providers.stt.transcriber_settings import unsupported_stt_settings
from callwright.providers.tts.voice_settings import unsupported_voice_settings
from callwright.providers.vendors import CATALOG
from callwright.security.crypto import SecretBox
from callwright.settings import Settings
from callwright.store.models import PhoneNumber

from .lookup import organization_credentials
from .resolution import Resolved, resolve
from .schemas import AssistantValidation, EndpointSource, ProviderCheck

__all__ = ["AssistantValidator"]

# What a call does while a provider's values are missing.
_MEANWHILE = {
    "llm": "until then calls are answered by the first usable fallback or the offline model",
    "llm-fallback": "until then calls skip this fallback",
    "stt": "until then calls are transcribed offline (whisper-local)",
    "tts": "until then calls speak with the offline voice",
    "embeddings": "until then retrieval uses the offline all-MiniLM-L6-v2",
    "realtime": "there is no offline realtime model: until then calls end at once",
}
_TWILIO_NEEDS = ["account_sid", "auth_token"]
# The resource's defaults: a realtime field is named only once changed from them.
_DEFAULTS = AssistantFields().model_dump(mode="json")
_ENDPOINT_SOURCES: dict[str, EndpointSource] = {
    "assistant": "assistant",
    "organization": "organization",
    "environment": "environment",
}


class AssistantValidator:
    def __init__(
        self, session: AsyncSession, principal: Principal, box: SecretBox, settings: Settings
    ) -> None:
        self._session = session
        self._principal = principal
        self._box = box
        self._settings = settings

    async def validate(self, identifier: str) -> AssistantValidation:
        assistants = AssistantService(self._session, self._principal, self._box)
        stored = await assistants.get(identifier)  # 404 outside the principal's scope
        credentials = await organization_credentials(
            self._session, self._box, stored.row.organization_id
        )
        document = stored.settings.model_dump(mode="json")
        resolution = resolve(document, credentials, self._settings)
        checks = [
            _realtime_problems(_setting_notes(_check(resolved), resolved, document), document)
            for resolved in resolution.all()
        ]
        checks += await self._telephony(stored, credentials)
        return AssistantValidation(
            assistant_id=stored.row.id, ok=all(check.ok for check in checks), providers=checks
        )

    async def _telephony(
        self, stored: StoredAssistant, credentials: dict[str, dict[str, Any]]
    ) -> list[ProviderCheck]:
        """One check per Twilio account whose numbers ring this assistant. The account
        is matched, never assumed: the same rule as ``domain.phone_numbers.accounts``."""
        query = (
            select(PhoneNumber.provider_account, PhoneNumber.number)
            .where(
                PhoneNumber.organization_id == stored.row.organization_id,
                PhoneNumber.assistant_id == stored.row.id,
                PhoneNumber.provider == "twilio",
                PhoneNumber.deleted_at.is_(None),
            )
            .order_by(PhoneNumber.provider_account, PhoneNumber.number)
        )
        numbers: dict[str, list[str]] = {}
        for account_sid, number in (await self._session.execute(query)).all():
            numbers.setdefault(account_sid, []).append(number)
        own = stored.settings.twilio_config
        organization = credentials.get("twilio") or {}
        checks = []
        for account_sid, listed in numbers.items():
            source: Any = None
            if own.account_sid == account_sid and own.auth_token:
                source = "assistant"
            elif organization.get("account_sid") == account_sid and organization.get("auth_token"):
                source = "organization"
            where = f"numbers {', '.join(listed)} on Twilio account {account_sid}"
            if source is not None:
                message = f"{where}: credentials from the {source}"
            else:
                message = (
                    f"{where}: neither twilio_config nor the organization's twilio credential "
                    "holds this account's auth_token, so its calls cannot be answered or placed"
                )
            checks.append(
                ProviderCheck(
                    kind="telephony",
                    provider="twilio",
                    field="twilio_config",
                    ok=source is not None,
                    needs=_TWILIO_NEEDS,
                    missing=[] if source is not None else ["auth_token"],
                    source=source,
                    message=message,
                )
            )
        return checks


def _setting_notes(
    check: ProviderCheck, resolved: Resolved, document: dict[str, Any]
) -> ProviderCheck:
    """The LLMs', the transcriber's and the voice's checks name the settings they
    have no equivalent for (changed from their defaults, so they would do nothing): a
    note, not a failure."""
    if check.kind in ("llm", "llm-fallback"):
        unsupported = unsupported_llm_settings(
            resolved.vendor, resolved.model, resolved.base_url, document
        )
    elif check.kind == "tts":
        unsupported = unsupported_voice_settings(check.provider, document["tts_settings"])
    elif check.kind == "stt":
        unsupported = unsupported_stt_settings(check.provider, document["stt_settings"])
    else:
        return check
    if not unsupported:
        return check
    note = f"not supported by {check.provider}, no effect: {', '.join(unsupported)}"
    return check.model_copy(
        update={"message": f"{check.message}; {note}", "unsupported": unsupported}
    )


def _realtime_problems(check: ProviderCheck, document: dict[str, Any]) -> ProviderCheck:
    """A realtime model's check fails on settings its vendor would refuse at call time
    (Gemini given OpenAI's voice or model), and names the fields changed from their
    defaults that do nothing in realtime mode on that vendor: a note, not a failure."""
    if check.kind != "realtime":
        return check
    problems = setting_problems(check.provider, document.get("realtime_settings") or {})
    unsupported = unsupported_realtime_settings(check.provider, document, _DEFAULTS)
    notes = [*problems]
    if unsupported:
        notes.append(f"no effect in realtime mode on {check.provider}: {', '.join(unsupported)}")
    if not notes:
        return check
    message = "; ".join(part for part in (check.message, *notes) if part)
    return check.model_copy(
        update={"ok": check.ok and not problems, "message": message, "unsupported": unsupported}
    )


def _check(resolved: Resolved) -> ProviderCheck:
    ok, message = resolved.ok, ""
    if resolved.offline:
        vendor = CATALOG.get(resolved.catalog_kind, resolved.vendor)
        module, extra = (vendor.extra if vendor else None) or (None, "")
        if module is not None and importlib.util.find_spec(module) is None:
            ok, message = False, f"the offline {resolved.vendor} model needs {extra}"
        else:
            message = f"served by the offline {resolved.vendor} model"
    elif resolved.ok:
        message = f"ready: {resolved.reason()}"
    else:
        problem = resolved.problem() or "not configured"
        message = f"{problem}; {_MEANWHILE[resolved.kind]}"
    source = resolved.source if resolved.source != "default" else None
    endpoint: EndpointSource | None = None
    if not resolved.offline and resolved.account is not None:
        found = resolved.sources.get("base_url") or resolved.sources.get("region")
        endpoint = _ENDPOINT_SOURCES.get(found or "default", "vendor")
    return ProviderCheck(
        kind=resolved.kind,
        provider=resolved.vendor,
        field=resolved.where,
        ok=ok,
        needs=list(resolved.needs),
        missing=list(resolved.missing),
        source=source,
        endpoint_source=endpoint,
        message=message,
    )
