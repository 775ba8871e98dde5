"""SIGTERM drains the server: new calls are refused at once (a web call 503, a Twilio
call ``<Reject reason="busy"/>``, readyz 503), a call in progress goes on and ends as
its caller decides, a call still up at the drain deadline hears the end-call message
and ends with ``server-shutdown``, and its end-of-call webhook has been delivered before
the server's own handler is told to stop.

The signal is real (``signal.raise_signal`` on the test runner's main thread, where the
app's handler is installed); the handler the app hands it on to, once drained, stands in
for uvicorn's (``tests/test_workers.py`` runs the real server)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from types import FrameType
from typing import Any

import httpx
import pytest

from callwright.api.app import create_app
from callwright.domain.calls.nodes import fleet
from callwright.settings import Settings
from callwright.store.base import utcnow
from tests.calls.harness import (
    API_TIMEOUT,
    FakeProviders,
    FakeTwilioApi,
    MediaStreamCall,
    PhoneLab,
    listener,
    media_stream,
    parse_stream_twiml,
    serve,
    twilio_post,
)
from tests.calls.test_twilio_inbound import (
    Receiver,
    _setup,
    _voice_params,
    _wait_for_record,
    receiver,
)
from tests.conftest import Tenant, make_tenant

__all__ = ["receiver"]  # the fixture, imported for these tests

GOODBYE = "We are closing for maintenance now, goodbye."
# Generous: the call that outlives it must still be up when the checks before are done.
DRAIN_TIMEOUT_S = 8.0


@contextlib.contextmanager
def stop_requests() -> Iterator[asyncio.Event]:
    """SIGTERM's handler while the app does not hold it: the server's own (uvicorn's),
    which the drain hands the signal on to once it has finished. The event is set
    then."""
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()

    def handler(_sig: int, _frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(stopped.set)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield stopped
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.asynccontextmanager
async def draining_lab(settings: Settings, providers: FakeProviders) -> AsyncIterator[PhoneLab]:
    """``phone_lab`` with the server process's signal handling (``drain_on_signals``)."""
    twilio = FakeTwilioApi()
    api_socket, app_socket = listener(), listener()
    base_url = f"http://127.0.0.1:{app_socket.getsockname()[1]}"
    configured = settings.model_copy(
        update={
            "public_url": base_url,
            "twilio_api_base_url": f"http://127.0.0.1:{api_socket.getsockname()[1]}",
            "drain_timeout_s": DRAIN_TIMEOUT_S,
            "webhook_poll_interval_seconds": 0.2,
        }
    )
    app = create_app(configured, provider_factory=providers.factory(), drain_on_signals=True)
    try:
        async with (
            serve(twilio.app(), listener=api_socket),
            serve(app, listener=app_socket, lifespan="on"),
        ):
            yield PhoneLab(base_url, app, twilio, providers)
    finally:
        api_socket.close()
        app_socket.close()


async def _until(condition: Callable[[], bool], what: str, limit_s: float = 30) -> None:
    """Wait for ``condition`` (a safety bound, not a timing check)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def _answer(lab: PhoneLab, call_sid: str) -> tuple[str, dict[str, str]]:
    answer = await twilio_post(lab.base_url, "/telephony/twilio/voice", _voice_params(call_sid))
    assert answer.status_code == 200, answer.text
    return parse_stream_twiml(answer.text)


async def _call_ids(lab: PhoneLab, tenant: Tenant) -> dict[str, int]:
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
    ) as api:
        listed = (await api.get("/api/v1/calls", params={"direction": "inbound"})).json()
    return {row["provider_call_id"]: row["id"] for row in listed}


async def _refusals(lab: PhoneLab, tenant: Tenant, assistant_id: int) -> None:
    """Every way of starting a call is refused while the server drains."""
    busy = await twilio_post(
        lab.base_url, "/telephony/twilio/voice", _voice_params("CA" + "cc" * 16)
    )
    assert busy.status_code == 200, busy.text
    assert '<Reject reason="busy"/>' in busy.text
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
    ) as api:
        web = await api.post("/api/v1/calls/web", json={"assistant_id": assistant_id})
        ready = await api.get("/readyz")
    assert web.status_code == 503, web.text
    assert web.json()["code"] == "busy"
    assert "shutting down" in web.json()["error"]
    assert ready.status_code == 503, ready.text


async def _listed(lab: PhoneLab) -> tuple[str, int]:
    """This node as the nodes table lists it (once its drain is written there)."""
    state = lab.app.state.callwright
    deadline = time.monotonic() + 30  # a safety bound
    while True:
        async with state.session_factory() as db:
            nodes = await fleet(db, live_since=utcnow() - timedelta(hours=1))
        (node,) = [node for node in nodes if node.id == state.node.id]
        if node.state == "draining" or time.monotonic() > deadline:
            return node.state, node.calls
        await asyncio.sleep(0.05)


async def _hears_goodbye(call: MediaStreamCall, before: int) -> bool:
    """Audio came after ``before`` bytes (the goodbye), and the stream was closed."""
    await asyncio.wait_for(call.closed.wait(), 60)
    return call.received_audio_bytes > before


@pytest.mark.usefixtures("receiver")
async def test_sigterm_drains_calls_then_stops(settings: Settings, receiver: Receiver) -> None:
    providers = FakeProviders()
    with stop_requests() as stopped:
        async with draining_lab(settings, providers) as lab:
            tenant = await make_tenant(lab.app)
            assistant_id, _ = await _setup(lab, tenant, receiver.url)
            async with httpx.AsyncClient(
                timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
            ) as api:
                patched = await api.patch(
                    f"/api/v1/assistants/{assistant_id}",
                    json={"end_call_message": GOODBYE},
                )
                assert patched.status_code == 200, patched.text
                assert (await api.get("/readyz")).status_code == 200
            finishing, staying = "CA" + "aa" * 16, "CA" + "bb" * 16
            url_a, parameters_a = await _answer(lab, finishing)
            url_b, parameters_b = await _answer(lab, staying)
            async with (
                media_stream(url_a, parameters_a, finishing) as call_a,
                media_stream(url_b, parameters_b, staying) as call_b,
            ):
                # Both greeted: the calls are up.
                await call_a.silence_until(lambda: bool(call_a.marks_echoed))
                await call_b.silence_until(lambda: bool(call_b.marks_echoed))
                greeted_b = call_b.received_audio_bytes

                signal.raise_signal(signal.SIGTERM)
                runtime = lab.app.state.callwright.calls
                await _until(lambda: runtime.draining, "the drain to start")
                assert not stopped.is_set()
                await _refusals(lab, tenant, assistant_id)
                # The fleet sees it: out of capacity, its two calls still held.
                assert await _listed(lab) == ("draining", 2)

                # The first caller finishes the call as usual.
                await call_a.stop()
                await asyncio.wait_for(call_a.closed.wait(), 30)
                # The second stays on the line past the deadline: goodbye, then hang-up.
                keep_talking = asyncio.create_task(call_b.silence_until(call_b.closed.is_set, 60))
                assert await _hears_goodbye(call_b, greeted_b)
                await keep_talking

            # The server's own handler is told to stop once the drain is over.
            await asyncio.wait_for(stopped.wait(), 60)
            # By then the end-of-call webhooks were delivered.
            reports = {
                report["message"]["call"]["id"]: report["message"]
                for report in receiver.of_type("end-of-call-report")
            }
            ids = await _call_ids(lab, tenant)
            # The refused call was never recorded (as at capacity).
            assert set(ids) == {finishing, staying}
            report_b = reports[str(ids[staying])]
            assert report_b["endedReason"] == "server-shutdown"
            assert reports[str(ids[finishing])]["endedReason"] == "customer-ended-call"

            record_a = await _wait_for_record(lab, tenant, ids[finishing])
            record_b = await _wait_for_record(lab, tenant, ids[staying])
    assert record_a["end_reason"] == "customer-ended-call"
    assert record_b["end_reason"] == "server-shutdown"
    said: list[dict[str, Any]] = [m for m in record_b["messages"] if m["role"] == "assistant"]
    assert said[-1]["text"] == GOODBYE
