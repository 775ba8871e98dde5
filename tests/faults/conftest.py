"""The fault tests' fleet: server processes on the session's PostgreSQL database
(emptied before each test) and the local Redis (a namespace per test)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import _truncate
from tests.faults.fleet import Node, fleet_environment
from tests.support.optional import unavailable
from tests.webhooks.receiver import Receiver

REDIS_URL = os.environ.get("CALLWRIGHT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_reachable() -> None:
    host, port = "127.0.0.1", 6379
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        unavailable(f"Redis is not reachable at {host}:{port}: {exc}")


@dataclass
class Fleet:
    """The nodes of one test; each is stopped (or found dead) at the end."""

    database_url: str
    data_dir: Path
    log_dir: Path
    namespace: str = field(default_factory=lambda: f"faults{uuid.uuid4().hex[:10]}")
    nodes: list[Node] = field(default_factory=list)

    def node(
        self, name: str, *, database_url: str | None = None, redis_url: str | None = None
    ) -> Node:
        env = fleet_environment(
            database_url or self.database_url,
            self.data_dir,
            redis_url or REDIS_URL,
            self.namespace,
        )
        node = Node(name, env, self.log_dir)
        self.nodes.append(node)
        return node

    async def close(self) -> None:
        for node in self.nodes:
            await node.stop()


@pytest.fixture
async def fault_database(postgres_url: str) -> str:
    _redis_reachable()
    await _truncate(postgres_url)
    return postgres_url


@pytest.fixture
async def fleet(fault_database: str, tmp_path: Path) -> AsyncIterator[Fleet]:
    logs = tmp_path / "logs"
    logs.mkdir()
    running = Fleet(fault_database, tmp_path / "data", logs)
    try:
        yield running
    finally:
        await running.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hooks = Receiver()
    async with hooks.serving():
        yield hooks
