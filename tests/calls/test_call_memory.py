"""A finished phone call is freed by reference counting, on the whole runtime path: the
Twilio Media Stream, the recording transport, the session, the recorder, the webhook
writer and the progress saver are gone as soon as the call's record is written, with
the collector off; and nothing of callwright's is left for the collector to find.

(The HTTP, WebSocket and database libraries around the call may leave garbage of their
own; what is checked is the call's.)"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import types
import weakref
from pathlib import Path

import pytest
from sqlalchemy.types import TypeEngine

import callwright
from callwright.settings import Settings
from tests.calls.harness import (
    FakeProviders,
    PhoneLab,
    media_stream,
    parse_stream_twiml,
    phone_lab,
    twilio_post,
)
from tests.calls.test_twilio_inbound import LONG_REPLY, _setup, _voice_params, _wait_for_record
from tests.conftest import Tenant, make_tenant

SOURCE = str(Path(callwright.__file__).parent)


def _callwrights(garbage: list[object]) -> list[str]:
    """What of callwright's the collector found: its objects and its frames (not its
    column types, which SQLAlchemy's query expressions hold in cycles of their own)."""
    found = []
    for thing in garbage:
        if type(thing) is types.FrameType:
            if thing.f_code.co_filename.startswith(SOURCE):
                found.append(f"frame {thing.f_code.co_qualname}")
        elif type(thing).__module__.startswith("callwright.") and not isinstance(thing, TypeEngine):
            found.append(type(thing).__qualname__)
    return sorted(set(found))


class _Watched:
    """Weak references to a call's objects; ``gone`` is set once all of them are."""

    def __init__(self, *things: object) -> None:
        self.gone = asyncio.Event()
        self._refs = [weakref.ref(thing, self._freed) for thing in things]

    def _freed(self, _: weakref.ref[object]) -> None:
        if not self.alive():
            self.gone.set()

    def alive(self) -> list[str]:
        return [type(thing).__qualname__ for ref in self._refs if (thing := ref()) is not None]


async def _call(lab: PhoneLab, tenant: Tenant, call_sid: str) -> _Watched:
    """One call: greeting, a question, a barge-in on the answer, the caller's hang-up.
    Returns its session and its transport, watched from while it ran."""
    answer = await twilio_post(lab.base_url, "/telephony/twilio/voice", _voice_params(call_sid))
    stream_url, parameters = parse_stream_twiml(answer.text)
    runtime = lab.app.state.callwright.calls
    async with media_stream(stream_url, parameters, call_sid) as call:
        await call.silence_until(lambda: bool(call.marks_echoed))
        (call_id,) = [i for i in range(1, 100) if runtime.session_of(i) is not None]
        session, transport = runtime.session_of(call_id), runtime.transport_of(call_id)
        held = _Watched(session, transport)
        del session, transport
        greeting_bytes = call.received_audio_bytes
        await call.speak(1.0)
        await call.silence_until(lambda: call.received_audio_bytes > greeting_bytes)
        await call.silence(0.8)
        await call.speak(1.5)
        await call.silence_until(lambda: call.clears >= 1)
        await call.silence(0.5)
        await call.stop()
        await asyncio.wait_for(call.closed.wait(), 10)
    record = await _wait_for_record(lab, tenant, call_id)
    assert record["end_reason"] == "customer-ended-call"
    assert [m["interrupted"] for m in record["messages"] if m["role"] == "assistant"][1]
    return held


@pytest.mark.usefixtures("collector_off")
async def test_a_finished_phone_call_leaves_no_cyclic_garbage(settings: Settings) -> None:
    providers = FakeProviders(
        utterances=("What are your opening hours?", "Sorry, and on Sundays?"),
        replies=[LONG_REPLY, "Closed on Sundays, sorry."],
    )
    async with phone_lab(settings, providers) as lab:
        tenant = await make_tenant(lab.app)
        await _setup(lab, tenant, None)
        await _call(lab, tenant, "CA" + "a0" * 16)  # warm: first-use caches are no call's
        gc.collect()
        held = await _call(lab, tenant, "CA" + "ab" * 16)
        # The stream's handler returns just after the record is written.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(held.gone.wait(), 10)
        assert held.alive() == [], "the call outlived its end: it is in a reference cycle"
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        assert _callwrights(gc.garbage) == []
