"""What a crash or an unreachable database may cost a call: its recording spooled
after each turn and repaired after a crash, its record and webhook events retried
until the database takes them, a swept call's record rounded off (duration, partial
recording, end_call_url POST), and no sweep on the heels of a database outage."""

from __future__ import annotations

import asyncio
import contextlib
import io
import wave
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.clock import VirtualClock
from callwright.domain.calls.repository import new_call
from callwright.engine.events import UserMessage
from callwright.runtime.nodes import LocalNode
from callwright.runtime.progress import ProgressWriter
from callwright.runtime.recorder import CallRecorder, StereoRecording, stereo_frames
from callwright.runtime.recordings import RecordingSpool, repaired_wav
from callwright.runtime.webhook_writer import WebhookWriter
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.call_status import CallStatus
from callwright.store.models import Call, WebhookEvent
from callwright.transports.protocol import AudioReceived, TransportEvent
from tests.calls.test_nodes import EXPIRY, WallTime, node_app
from tests.conftest import Tenant, make_tenant


def _refused() -> OperationalError:
    return OperationalError("SELECT 1", {}, ConnectionRefusedError("restarting"))


class FlakySessions:
    """A session factory that fails to connect while ``down``; every attempt is
    reported on ``attempts`` (True when it went through)."""

    def __init__(self, real: async_sessionmaker[AsyncSession], *, down: bool = True) -> None:
        self._real = real
        self.down = down
        self.attempts: asyncio.Queue[bool] = asyncio.Queue()

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        if self.down:
            self.attempts.put_nowait(False)
            raise _refused()
        async with self._real.begin() as session:
            yield session
        self.attempts.put_nowait(True)

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        if self.down:
            self.attempts.put_nowait(False)
            raise _refused()
        async with self._real() as session:
            yield session
        self.attempts.put_nowait(True)


async def _live_call(
    app: FastAPI, tenant: Tenant, assistant_id: int | None = None, *, started: bool = True
) -> Call:
    async with app.state.callwright.session_factory.begin() as db:
        call = new_call(
            organization_id=tenant.organization_id,
            user_id=tenant.user_id,
            assistant_id=assistant_id,  # type: ignore[arg-type]
            type="webCall",
            status=CallStatus.IN_PROGRESS,
            node_id=app.state.callwright.node.id,
        )
        if started:
            call.started_at = utcnow() - timedelta(seconds=30)
        db.add(call)
    return call


# -- the recording ----------------------------------------------------------------------


def test_a_spool_cut_short_is_repaired_to_what_was_written(tmp_path: Path) -> None:
    spool = RecordingSpool(tmp_path)
    first = stereo_frames(b"\x01\x00" * 800, b"\x02\x00" * 400)
    spool.append(3, 9, 16000, first)
    spool.append(3, 9, 16000, stereo_frames(b"\x03\x00" * 800, b"\x04\x00" * 800))
    # The process died mid-write: half a frame at the end.
    with spool.path(3, 9).open("ab") as torn:
        torn.write(b"\x05\x00\x06")
    recovered = spool.recover(3, 9)
    assert recovered is not None
    with wave.open(io.BytesIO(recovered)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 16000)
        assert wav.getnframes() == 1600
        frames = wav.readframes(1600)
    assert frames[:4] == b"\x01\x00\x02\x00"
    assert frames[400 * 4 : 400 * 4 + 4] == b"\x01\x00\x00\x00"  # the assistant was quiet
    assert frames[-4:] == b"\x03\x00\x04\x00"
    spool.remove(3, 9)
    assert spool.recover(3, 9) is None
    assert repaired_wav(b"RIFF") is None


class LineTransport:
    """A line that delivers the caller audio it is given, and takes what is sent."""

    sample_rate = 8000

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def events(self) -> AsyncIterator[TransportEvent]:
        for chunk in self._chunks:
            yield AudioReceived(chunk)

    async def send_audio(self, pcm16: bytes) -> None:
        return None

    async def clear_audio(self) -> None:
        return None


async def test_settled_audio_is_handed_out_once_and_never_changes() -> None:
    recording = StereoRecording(LineTransport([b"\x01\x00" * 160] * 3))  # type: ignore[arg-type]
    events = recording.events()
    await anext(events)  # 160 samples of caller audio: "now" is 160
    await recording.send_audio(b"\x02\x00" * 240)  # plays from 160 to 400
    caller, assistant = recording.take_settled()
    assert (len(caller), len(assistant)) == (320, 320)
    assert assistant == bytes(320)  # nothing was playing before "now"
    await anext(events)
    await anext(events)  # "now" is 480: all the assistant's audio has played
    await recording.clear_audio()  # a barge-in after it changes nothing settled
    caller, assistant = recording.take_settled()
    assert len(caller) == 640
    assert assistant == b"\x02\x00" * 240 + bytes(160)
    assert recording.take_settled() == (b"", b"")


# -- writes retried while the database is away -----------------------------------------


async def test_the_record_so_far_is_retried_without_waiting_for_a_turn(
    app: FastAPI, tenant: Tenant
) -> None:
    factory = app.state.callwright.session_factory
    call = await _live_call(app, tenant)
    recorder = CallRecorder(started_at=0.0)
    sessions = FlakySessions(factory)
    clock = VirtualClock()
    writer = ProgressWriter(call.id, recorder, sessions, clock=clock)  # type: ignore[arg-type]
    async with asyncio.TaskGroup() as group:
        running = group.create_task(writer.run())
        recorder(UserMessage("The only turn.", 1.0))
        writer.turn_ended()
        assert await sessions.attempts.get() is False  # the database is away
        sessions.down = False
        await clock.advance(0.5)  # the back-off passes; no other turn comes
        assert await sessions.attempts.get() is True
        running.cancel()
    assert (writer.failures, writer.writes) == (1, 1)
    async with factory() as db:
        saved = await db.get(Call, call.id)
    assert saved is not None
    assert [m["text"] for m in saved.messages] == ["The only turn."]


async def test_webhook_events_wait_out_the_database_and_are_handed_over_at_the_end(
    app: FastAPI, tenant: Tenant
) -> None:
    factory = app.state.callwright.session_factory
    call = await _live_call(app, tenant)
    sent: list[tuple[str, Mapping[str, Any]]] = []

    class Webhooks:
        async def send(
            self, session: AsyncSession, call: Call, url: str, kind: str, data: Mapping[str, Any]
        ) -> None:
            sent.append((kind, data))

        def register_tools(self, call_id: int, tools: Mapping[str, Mapping[str, Any]]) -> None:
            return None

        def forget(self, call_id: int) -> None:
            return None

    sessions = FlakySessions(factory)
    clock = VirtualClock()
    writer = WebhookWriter(
        call.id,
        Webhooks(),
        "http://hooks.test/",
        sessions,
        clock=clock,  # type: ignore[arg-type]
    )
    async with asyncio.TaskGroup() as group:
        running = group.create_task(writer.run())
        writer.notify("transcript", {"text": "one"})
        assert await sessions.attempts.get() is False
        writer.notify("transcript", {"text": "two"})
        await clock.advance(0.5)  # the back-off: both go in the next try, still refused
        assert await sessions.attempts.get() is False
        assert writer.failures == 2
        writer.notify("transcript", {"text": "three"})
        writer.close()
        # The call ends with the database still away: what is unwritten is handed over.
        running.cancel()
    assert sent == []
    assert [data["text"] for _, data in writer.leftover()] == ["one", "two", "three"]
    # And with the database back, a batch goes in one commit.
    sessions.down = False
    writer = WebhookWriter(call.id, Webhooks(), "http://hooks.test/", sessions)  # type: ignore[arg-type]
    writer.notify("transcript", {"text": "four"})
    writer.close()
    await writer.run()
    assert [data["text"] for _, data in sent] == ["four"]


# -- a swept call, and sweeping after an outage -----------------------------------------


async def test_a_swept_calls_record_is_rounded_off_and_its_end_call_url_told(
    settings: Settings,
) -> None:
    a_time = WallTime(utcnow())
    async with node_app(settings, a_time) as a:
        tenant = await make_tenant(a)
        transport = httpx.ASGITransport(app=a)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=tenant.headers
        ) as api:
            created = await api.post(
                "/api/v1/assistants",
                json={
                    "name": "Swept",
                    "webhook_url": "http://127.0.0.1:9/hooks",
                    "end_call_url": "http://127.0.0.1:9/ended",
                },
            )
        assert created.status_code == 201, created.text
        call = await _live_call(a, tenant, int(created.json()["id"]))
        # Issued, never connected: no session ran, so no end_call_url POST is owed.
        unconnected = await _live_call(a, tenant, int(created.json()["id"]), started=False)
        # What the dead node's turns left in its spool.
        spool = RecordingSpool(settings.data_dir / "recordings-spool")
        spool.append(tenant.organization_id, call.id, 8000, stereo_frames(b"\x01\x00" * 8000, b""))
        last_beat = a_time.now
    b_time = WallTime(last_beat + EXPIRY + timedelta(seconds=1))
    async with node_app(settings, b_time) as b:
        # B's start-up sweep (A stopped cleanly, but left the call open).
        async with b.state.callwright.session_factory() as db:
            swept = await db.get(Call, call.id)
            assert swept is not None
            events = (
                await db.execute(
                    select(WebhookEvent.event_type, WebhookEvent.url, WebhookEvent.payload).where(
                        WebhookEvent.call_id == call.id
                    )
                )
            ).all()
        assert (swept.status, swept.end_reason) == ("ended", "server-restarted")
        assert swept.duration_seconds is not None
        assert swept.duration_seconds > 29  # started 30 s before A's last heartbeat
        assert swept.recording_key == f"{tenant.organization_id}/{call.id}.wav"
        stored = await b.state.callwright.recordings.get(swept.recording_key)
        with wave.open(io.BytesIO(stored)) as wav:
            assert wav.getnframes() == 8000
        assert spool.recover(tenant.organization_id, call.id) is None  # stored, removed
        by_type = {event_type: (url, payload) for event_type, url, payload in events}
        assert set(by_type) == {"status-update", "end-of-call-report", "call-ended"}
        url, payload = by_type["call-ended"]
        assert url == "http://127.0.0.1:9/ended"
        assert payload["endedReason"] == "server-restarted"
        assert payload["call"]["id"] == str(call.id)
        async with b.state.callwright.session_factory() as db:
            unconnected_events = (
                await db.execute(
                    select(WebhookEvent.event_type).where(WebhookEvent.call_id == unconnected.id)
                )
            ).scalars()
            assert sorted(unconnected_events) == ["end-of-call-report", "status-update"]


async def test_no_sweep_until_every_live_node_could_beat_after_an_outage(
    app: FastAPI,
) -> None:
    factory = app.state.callwright.session_factory
    sessions = FlakySessions(factory, down=False)
    clock = VirtualClock()
    node = LocalNode(
        sessions,  # type: ignore[arg-type]
        heartbeat_interval_s=1,
        expiry_s=10,
        clock=clock,
        node_id=app.state.callwright.node.id,
    )
    sweeps: list[float] = []
    real_sweep = node.sweep

    async def counted() -> int:
        sweeps.append(clock.now())
        return await real_sweep()

    node.sweep = counted  # type: ignore[method-assign]
    async with asyncio.TaskGroup() as group:
        running = group.create_task(node.run())
        await clock.advance(1)
        assert await sessions.attempts.get() is True  # the beat
        assert await sessions.attempts.get() is True  # the sweep
        sessions.down = True
        await clock.advance(1)
        assert await sessions.attempts.get() is False  # the beat fails: an outage
        sessions.down = False
        await clock.advance(1)
        assert await sessions.attempts.get() is True  # back: beats, but does not sweep
        for _ in range(9):  # up to t=12
            await clock.advance(1)
            assert await sessions.attempts.get() is True
        assert sweeps == [1.0]
        await clock.advance(1)  # t=13: a full expiry after its first beat back (t=3)
        assert await sessions.attempts.get() is True
        assert await sessions.attempts.get() is True
        running.cancel()
    assert sweeps == [1.0, 13.0]
