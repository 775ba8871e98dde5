"""The database work of a live call's webhook events, in this process's CPU per event.

A call's transcript lines and tool calls reach receivers in two steps, each a few
queries: the call's ``WebhookWriter`` writes an outbox row per event (one transaction
per batch), and the dispatcher's ``OutboxLeases`` claims due rows and records each
attempt. This times both against a fresh migrated database holding one call
mid-conversation (a record of ``--turns`` turns saved so far, as the progress writer
leaves it), with the server's CPU in mind: it reports this process's CPU time
(``time.process_time``: SQLAlchemy, the driver, rendering the message), not the
database server's, per event:

- ``writer``: one event per batch (lines arrive one at a time in a call), each
  committed before the next is queued;
- ``claim``: the dispatcher claiming the events written, ``--claim`` at a time;
- ``record``: recording one delivered attempt per claimed event.

    .venv/bin/python benchmarks/webhook_db.py [--database postgres|sqlite] [--events 400]

PostgreSQL is the local server (``CALLWRIGHT_TEST_POSTGRES`` overrides the admin DSN);
each run creates and drops a throwaway database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402

from callwright.domain.webhooks.leases import Attempt, OutboxLeases  # noqa: E402
from callwright.domain.webhooks.outbox import DELIVERED, subscribe  # noqa: E402
from callwright.runtime.webhook_writer import WebhookWriter  # noqa: E402
from callwright.runtime.webhooks import OutboxCallWebhooks  # noqa: E402
from callwright.settings import Settings  # noqa: E402
from callwright.store.base import utcnow  # noqa: E402
from callwright.store.call_status import CallStatus  # noqa: E402
from callwright.store.database import create_engine, create_session_factory  # noqa: E402
from callwright.store.migrate import upgrade_to_head  # noqa: E402
from callwright.store.models import Call, Organization  # noqa: E402

POSTGRES = os.environ.get(
    "CALLWRIGHT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
URL = "http://127.0.0.1:9/hook"


@asynccontextmanager
async def database(kind: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A fresh migrated database of ``kind``, dropped afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            engine = create_engine(f"sqlite+aiosqlite:///{directory}/bench.db")
            try:
                await upgrade_to_head(engine)
                yield create_session_factory(engine)
            finally:
                await engine.dispose()
        return
    import asyncpg

    name = f"cw_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(POSTGRES)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base = POSTGRES.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    engine = create_engine(f"{base}/{name}")
    try:
        await upgrade_to_head(engine)
        yield create_session_factory(engine)
    finally:
        await engine.dispose()
        admin = await asyncpg.connect(POSTGRES)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def record_so_far(turns: int) -> dict[str, Any]:
    """A live call's record after ``turns`` turns, shaped as the recorder keeps it."""
    messages: list[dict[str, Any]] = []
    timings: list[dict[str, Any]] = []
    for turn in range(turns):
        at = turn * 6.0
        messages.append(
            {
                "role": "user",
                "text": f"Caller sentence number {turn}, " * 3,
                "seconds_from_start": at,
            }
        )
        messages.append(
            {
                "role": "assistant",
                "text": f"An answer of a few sentences for turn {turn}. " * 4,
                "seconds_from_start": at + 1.2,
                "interrupted": False,
            }
        )
        timings.append(
            {
                "turn": turn,
                "stt_final_ms": 101.2,
                "llm_first_token_ms": 203.4,
                "tts_first_audio_ms": 99.8,
                "platform_ms": 3.1,
                "voice_to_voice_ms": 612.0,
                "providers": {"stt": "fake", "llm": "fake", "tts": "fake"},
            }
        )
    return {"messages": messages, "turns": timings, "tool_calls": [], "knowledge": []}


async def add_call(sessions: async_sessionmaker[AsyncSession], turns: int) -> Call:
    now = utcnow()
    async with sessions() as session:
        organization = Organization(name="bench")
        session.add(organization)
        await session.flush()
        call = Call(
            organization_id=organization.id,
            type="inboundPhoneCall",
            status=CallStatus.IN_PROGRESS,
            from_number="+14155550100",
            to_number="+14155550199",
            provider_call_id="CA" + uuid.uuid4().hex,
            variables={"customer_name": "Ada"},
            overrides={},
            assistant_context={"name": "Front desk", "metadata": {}, "custom_settings": {}},
            usage={},
            providers=[],
            created_at=now,
            updated_at=now,
            started_at=now,
            **record_so_far(turns),
        )
        session.add(call)
        await session.commit()
        return call


def cpu_us(started: float, count: int) -> float:
    return (time.process_time() - started) / max(count, 1) * 1e6


async def measure(kind: str, events: int, turns: int, calls: int, claim: int) -> dict[str, float]:
    async with database(kind) as sessions:
        webhooks = OutboxCallWebhooks(Settings())
        writers = [
            WebhookWriter((await add_call(sessions, turns)).id, webhooks, URL, sessions)
            for _ in range(calls)
        ]
        leases = OutboxLeases(sessions, timedelta(seconds=60))
        figures: dict[str, list[float]] = {"writer": [], "claim": [], "record": []}
        async with asyncio.TaskGroup() as group:
            for writer in writers:
                group.create_task(writer.run())
            # A warm-up round first (statement caches, the pool), not counted.
            for counted in (False, True):
                count = events if counted else 2 * calls
                with subscribe() as committed:
                    started = time.process_time()
                    for index in range(count):
                        committed.clear()
                        role = "user" if index // calls % 2 else "assistant"
                        writers[index % calls].notify(
                            "transcript", {"role": role, "text": f"line {index}"}
                        )
                        await committed.wait()
                    if counted:
                        figures["writer"].append(cpu_us(started, count))
                claimed = 0
                started = time.process_time()
                # Events of one call go one at a time: a claim finds each call's oldest,
                # and recording it frees the next.
                while batch := await leases.claim(claim):
                    claimed += len(batch)
                    if counted:
                        figures["claim"].append(cpu_us(started, len(batch)))
                    started = time.process_time()
                    for one in batch:
                        await leases.record(
                            one,
                            Attempt(200, None, 1.0),
                            status=DELIVERED,
                            retry_at=None,
                            at=utcnow(),
                        )
                    if counted:
                        figures["record"].append(cpu_us(started, len(batch)))
                    started = time.process_time()
                if claimed != count:
                    raise SystemExit(f"claimed {claimed} of {count} events")
            for writer in writers:
                writer.close()
    return {name: statistics.fmean(values) for name, values in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--turns", type=int, default=4, help="the call's record so far")
    parser.add_argument("--calls", type=int, default=8, help="calls the events are spread over")
    parser.add_argument("--claim", type=int, default=8, help="claim limit (the dispatcher's)")
    args = parser.parse_args()
    figures = asyncio.run(measure(args.database, args.events, args.turns, args.calls, args.claim))
    print(
        f"{args.database}: {args.events} events over {args.calls} calls, a record of "
        f"{args.turns} turns each, claims of at most {args.claim}: CPU µs per event"
    )
    for name, value in figures.items():
        print(f"  {name:<7} {value:8.0f}")
    print(f"  {'total':<7} {sum(figures.values()):8.0f}")


if __name__ == "__main__":
    main()
