"""The load harness's throwaway PostgreSQL databases (``benchmarks/load_databases.py``):
each is named for the process that made it, and a run drops only those whose process
is provably gone, so a killed run's database does not outlive the next run and a live
run's is never touched."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import asyncpg
import pytest

from tests.conftest import POSTGRES_ADMIN_DSN
from tests.support.optional import unavailable

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

# A harness run as far as its database goes: it makes one, says its URL, holds it
# until its stdin closes.
HARNESS = f"""
import asyncio, sys
sys.path.insert(0, {str(BENCHMARKS)!r})
from load_databases import database

async def main():
    async with database("postgres") as url:
        print(url, flush=True)
        await asyncio.to_thread(sys.stdin.read)

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def dbs() -> Iterator[ModuleType]:
    """``benchmarks/load_databases.py``, registered only while this module's tests run
    (its dataclasses look their module up by name)."""
    spec = importlib.util.spec_from_file_location(
        "load_databases", BENCHMARKS / "load_databases.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules.get("load_databases")
    sys.modules["load_databases"] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        if saved is None:
            sys.modules.pop("load_databases", None)
        else:
            sys.modules["load_databases"] = saved


@pytest.fixture
def listener() -> Iterator[subprocess.Popen[bytes]]:
    """A process that lives until its stdin closes."""
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        yield process
    finally:
        if process.stdin is not None:
            process.stdin.close()
        process.wait()


def test_a_name_says_whose_database_it_is(dbs: ModuleType) -> None:
    me = dbs.this_process()
    assert me.pid == os.getpid()
    name = dbs.database_name(me)
    assert len(name) <= 63  # PostgreSQL's limit on a name
    assert dbs.owner_of(name) == me
    assert dbs.database_name(me) != name  # two databases of one run do not collide
    for other in ("cw_load_0123456789", "cw_test_0123456789ab", "cw_load_abc_1_2_3", "postgres"):
        assert dbs.owner_of(other) is None


def test_an_owner_is_gone_only_when_provably_so(
    dbs: ModuleType, listener: subprocess.Popen[bytes]
) -> None:
    me = dbs.this_process()
    assert dbs.owner_alive(me)
    child = replace(me, pid=listener.pid, start_ticks=dbs._start_ticks(listener.pid))
    assert dbs.owner_alive(child)
    # The same pid but another start: the pid was reused, the owner is gone.
    assert not dbs.owner_alive(replace(me, start_ticks=me.start_ticks + 1))
    assert listener.stdin is not None
    listener.stdin.close()
    listener.wait()
    assert not dbs.owner_alive(child)

    gone = dbs.database_name(child)
    names = [
        gone,
        dbs.database_name(me),
        dbs.database_name(replace(child, where="00000000" if me.where != "00000000" else "1" * 8)),
        "cw_load_0123456789",  # the earlier harness's: no owner to check
    ]
    assert dbs.orphans(names, me.where) == [gone]


def _names(prefix: str) -> set[str]:
    async def fetch() -> set[str]:
        admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
        try:
            rows = await admin.fetch("SELECT datname FROM pg_database")
        finally:
            await admin.close()
        return {row["datname"] for row in rows if row["datname"].startswith(prefix)}

    return asyncio.run(fetch())


def _start_harness(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    with log.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-c", HARNESS],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    assert process.stdout is not None
    url = process.stdout.readline().decode().strip()  # EOF ("") if it failed
    assert url, log.read_text()
    return process, url.rsplit("/", 1)[1]


def _end(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            pipe.close()
    process.wait()


def test_a_killed_runs_database_is_dropped_by_the_next_run_a_live_ones_kept(
    dbs: ModuleType, tmp_path: Path
) -> None:
    try:
        _names("cw_load_")
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_DSN}: {exc}")
    killed, killed_name = _start_harness(tmp_path / "killed.log")
    try:
        live, live_name = _start_harness(tmp_path / "live.log")
    except BaseException:
        _end(killed)
        raise
    try:
        assert {killed_name, live_name} <= _names("cw_load_")
        killed.kill()  # SIGKILL: its own clean-up never runs
        killed.wait()
        assert killed_name in _names("cw_load_")

        looked = asyncio.run(dbs.sweep(POSTGRES_ADMIN_DSN, dry_run=True))
        assert killed_name in looked.dropped
        assert live_name not in looked.dropped
        assert killed_name in _names("cw_load_")  # a dry run drops nothing

        asyncio.run(dbs.sweep(POSTGRES_ADMIN_DSN))
        left = _names("cw_load_")
        assert killed_name not in left
        assert live_name in left
    finally:
        _end(killed)
        _end(live)
    # A run that ends drops its own database, as before.
    assert live.returncode == 0, (tmp_path / "live.log").read_text()
    assert live_name not in _names("cw_load_")
