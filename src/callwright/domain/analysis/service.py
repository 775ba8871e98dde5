"""The rules of a re-run: ``POST /api/v1/calls/{id}/analysis`` analyses an ended call
again with its assistant's current plan, replacing the analysis it has."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.analysis.jobs import schedule
from callwright.domain.assistants.service import load_assistant_for_call
from callwright.domain.calls.queries import CallRepository
from callwright.domain.principal import Principal
from callwright.errors import Conflict, NotFound
from callwright.security.crypto import SecretBox
from callwright.store.call_status import CallStatus
from callwright.store.models import Call

__all__ = ["AnalysisService"]


class AnalysisService:
    """A principal's re-runs (the call found through its own filtered query)."""

    def __init__(self, session: AsyncSession, principal: Principal, box: SecretBox) -> None:
        self._session = session
        self._calls = CallRepository(session, principal)
        self._box = box

    async def rerun(self, call_id: int) -> Call:
        """Queue the call's analysis again; its analysis reads ``pending`` until done."""
        call = await self._calls.get(call_id)
        if call is None:
            raise NotFound(f"call {call_id} not found")
        if call.status != CallStatus.ENDED:
            raise Conflict(f"call {call_id} has not ended: there is nothing to analyse yet")
        if call.assistant_id is None:
            raise Conflict(f"call {call_id}'s assistant was deleted: it has no analysis_plan")
        try:
            assistant = await load_assistant_for_call(self._session, self._box, call.assistant_id)
        except NotFound:
            raise Conflict(
                f"call {call_id}'s assistant was deleted: it has no analysis_plan"
            ) from None
        if assistant.settings.analysis_plan is None and "analysis_plan" not in call.overrides:
            raise Conflict(
                f"assistant {call.assistant_id} has no analysis_plan: set one, then re-run"
            )
        await schedule(self._session, call)
        return call
