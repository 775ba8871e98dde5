"""``callwright serve --workers 2`` as a real command: one port, two processes, each its
own node (the nodes table has both, and requests are answered by both); migrations and
the first-run bootstrap happen once; a worker killed with SIGKILL is replaced by the
supervisor; SIGTERM to the parent drains every worker and the command exits 0 with
its nodes marked stopped. On SQLite too, where the workers write concurrently through
WAL and the busy timeout (docs/decisions/021-workers-and-drain.md)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from callwright.store.database import create_engine
from callwright.store.models import Node
from tests.conftest import TEST_SECRET_KEY, _truncate
from tests.server import CALLWRIGHT, environment, free_port
from tests.support.optional import unavailable

REDIS_URL = os.environ.get("CALLWRIGHT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Safety bounds only: a loaded two-core machine starts a worker in seconds.
START_S = 120.0
STOP_S = 120.0


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]
    log: Path
    database_url: str

    def output(self) -> str:
        return self.log.read_text()


def _wait(condition: Callable[[], bool], what: str, limit_s: float, served: Served) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if served.process.poll() is not None:
            raise AssertionError(f"server exited {served.process.returncode}:\n{served.output()}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{served.output()}"
        time.sleep(0.1)


@contextmanager
def serving(
    env: dict[str, str], database_url: str, tmp_path: Path, workers: int
) -> Iterator[Served]:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [CALLWRIGHT, "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        served = Served(f"http://127.0.0.1:{port}", process, log, database_url)
        try:
            # Listening once migrated and bootstrapped (the parent, before any worker).
            _wait(lambda: _healthy(served.url), "the server to listen", START_S, served)
            yield served
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _nodes(database_url: str) -> list[tuple[str, int, bool]]:
    """(id, pid, stopped) of every node row."""

    async def read() -> list[tuple[str, int, bool]]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(select(Node.id, Node.pid, Node.stopped_at))
                return [(row.id, row.pid, row.stopped_at is not None) for row in rows]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _live(database_url: str) -> dict[str, int]:
    return {node: pid for node, pid, stopped in _nodes(database_url) if not stopped}


def _ready_nodes(url: str, requests: int) -> set[str]:
    """Which nodes answer ``requests`` concurrent readiness checks (new connections)."""

    async def ask() -> set[str]:
        async def one() -> str | None:
            async with httpx.AsyncClient(timeout=30) as client:
                try:
                    answer = await client.get(f"{url}/readyz")
                except httpx.TransportError:
                    return None
            return str(answer.json()["node"]) if answer.status_code == 200 else None

        answers = await asyncio.gather(*(one() for _ in range(requests)))
        return {node for node in answers if node is not None}

    return asyncio.run(ask())


def _answered_by_all(served: Served, nodes: set[str]) -> None:
    seen: set[str] = set()

    def both() -> bool:
        seen.update(_ready_nodes(served.url, 16))
        return nodes <= seen

    _wait(both, f"answers from every node {nodes} (seen {seen})", START_S, served)
    assert seen == nodes


def _stop(served: Served) -> None:
    served.process.send_signal(signal.SIGTERM)
    try:
        code = served.process.wait(timeout=STOP_S)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"did not stop on SIGTERM:\n{served.output()}") from None
    assert code == 0, served.output()


def _env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return environment(
        database_url,
        tmp_path / "data",
        CALLWRIGHT_SECRET_KEY=TEST_SECRET_KEY,
        CALLWRIGHT_NODE_HEARTBEAT_INTERVAL_S="1",
        CALLWRIGHT_NODE_EXPIRY_S="5",
        CALLWRIGHT_AUTO_MIGRATE="true",
        CALLWRIGHT_DRAIN_TIMEOUT_S="30",
        **extra,
    )


def _redis_or_skip() -> None:
    from redis import Redis
    from redis.exceptions import RedisError

    client: Any = Redis.from_url(REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except RedisError as exc:
        unavailable(f"Redis at {REDIS_URL} is not reachable: {exc}")
    finally:
        client.close()


@pytest.mark.postgres
def test_two_workers_on_postgres_and_redis(postgres_url: str, tmp_path: Path) -> None:
    _redis_or_skip()
    asyncio.run(_truncate(postgres_url))
    env = _env(
        postgres_url,
        tmp_path,
        CALLWRIGHT_REDIS_URL=REDIS_URL,
        CALLWRIGHT_REDIS_NAMESPACE=f"test-{uuid.uuid4().hex[:12]}",
    )
    with serving(env, postgres_url, tmp_path, workers=2) as served:
        _wait(lambda: len(_live(postgres_url)) == 2, "two live nodes", START_S, served)
        first = _live(postgres_url)
        assert len(set(first.values())) == 2  # two processes
        assert served.process.pid not in first.values()  # the parent serves nothing
        _answered_by_all(served, set(first))
        # Prepared once, by the parent: one bootstrap, one banner.
        output = served.output()
        assert output.count("First run: created organization") == 1, output
        assert "(2 processes)" in output

        # A worker killed outright is replaced: a new node, in a new process.
        victim_node, victim_pid = sorted(first.items())[0]
        os.kill(victim_pid, signal.SIGKILL)

        def replaced() -> bool:
            return len(set(_live(postgres_url)) - set(first)) == 1

        _wait(replaced, "the supervisor to replace the killed worker", START_S, served)
        survivors = (set(first) - {victim_node}) | (set(_live(postgres_url)) - set(first))
        assert len(survivors) == 2
        _answered_by_all(served, survivors)

        # SIGTERM to the parent: every worker drains and stops; the command exits 0.
        _stop(served)
    stopped = {node for node, _, is_stopped in _nodes(postgres_url) if is_stopped}
    assert survivors <= stopped


def test_two_workers_on_sqlite_write_concurrently(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'workers.db'}"
    env = _env(database_url, tmp_path)
    with serving(env, database_url, tmp_path, workers=2) as served:
        _wait(lambda: len(_live(database_url)) == 2, "two live nodes", START_S, served)
        nodes = set(_live(database_url))
        _answered_by_all(served, nodes)
        key = served.output().split("API key ", 1)[1].split()[0]

        async def create_many() -> list[int]:
            async with httpx.AsyncClient(
                base_url=served.url, timeout=60, headers={"Authorization": f"Bearer {key}"}
            ) as api:
                answers = await asyncio.gather(
                    *(
                        api.post("/api/v1/assistants", json={"name": f"Assistant {n}"})
                        for n in range(24)
                    )
                )
            return [answer.status_code for answer in answers]

        # Both processes write at once (heartbeats too): none is refused a write.
        assert asyncio.run(create_many()) == [201] * 24
        _stop(served)
    assert {node for node, _, is_stopped in _nodes(database_url) if is_stopped} >= nodes


@pytest.mark.parametrize(
    ("redis_url", "asked", "cores", "expected", "said"),
    [
        ("redis://127.0.0.1:6379/0", None, 4, 4, ""),
        ("redis://127.0.0.1:6379/0", 1, 4, 1, ""),
        (None, None, 4, 1, "serving 1 process, not 4"),
        (None, None, 1, 1, ""),
        (None, 3, 4, 3, "warning: 3 processes"),
        (None, 1, 4, 1, ""),
    ],
)
def test_how_many_processes(
    redis_url: str | None,
    asked: int | None,
    cores: int,
    expected: int,
    said: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One per core with Redis; without it one, unless asked (then a warning naming the
    control requests that cannot cross processes)."""
    from callwright.cli.main import _processes
    from callwright.settings import Settings

    settings = Settings(redis_url=redis_url, secret_key=TEST_SECRET_KEY)
    assert _processes(settings, asked, cores) == expected
    err = capsys.readouterr().err
    if said:
        assert said in err, err
        assert "REDIS_URL" in err, err
        assert "/end" in err, err
    else:
        assert err == ""
