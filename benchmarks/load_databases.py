"""The load harness's throwaway PostgreSQL databases, and the sweep of those a killed run
left behind.

    .venv/bin/python benchmarks/load_databases.py [--dry-run]   # sweep now, say what

``database("postgres")`` (used by load.py, soak.py, api_throughput.py, call_memory.py
and greeting.py) names each database for the process that made it::

    cw_load_<where>_<pid>_<start>_<token>

``where`` is 8 hex of a hash of the boot and the PID namespace (a pid means one process
only within both), ``start`` the process's start time in clock ticks since boot
(``/proc/<pid>/stat``, field 22; unlike a wall-clock start time it never shifts, and
tells a reused pid from the owner), ``token`` random. Before it creates one, it drops
every ``cw_load_*`` database whose owner is provably gone: same ``where``, and no
process has that pid, or the one that has it started at another tick. Anything it
cannot prove dead stays: a database of another machine or container (another
``where``), of a process this user may not inspect, of a process that has exited but
not been reaped, and the names of the earlier harness (``cw_load_<10 hex>``, no owner
in them), which it lists with the command to drop them by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import re
import secrets
import sys
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "POSTGRES_ADMIN_DSN",
    "Owner",
    "Sweep",
    "database",
    "database_name",
    "orphans",
    "owner_alive",
    "owner_of",
    "report",
    "sweep",
    "this_process",
]

POSTGRES_ADMIN_DSN = os.environ.get(
    "CALLWRIGHT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PREFIX = "cw_load_"
_NAME = re.compile(r"^cw_load_([0-9a-f]{8})_([0-9]+)_([0-9]+)_([0-9a-f]{6})$")
# The harness before owners were named: cw_load_ and 10 hex.
_UNOWNED = re.compile(r"^cw_load_[0-9a-f]{10}$")


@dataclass(frozen=True)
class Owner:
    """The process a database was made for: where its pid means something, the pid,
    and when that process started (clock ticks since boot)."""

    where: str
    pid: int
    start_ticks: int


def _where() -> str:
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    namespace = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    return hashlib.sha256(f"{boot} {namespace}".encode()).hexdigest()[:8]


def _start_ticks(pid: int) -> int:
    """Field 22 of ``/proc/<pid>/stat``; the command name (field 2, in parentheses)
    may hold spaces and parentheses itself, so fields count from the last ')'."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[19])


def this_process() -> Owner:
    pid = os.getpid()
    return Owner(_where(), pid, _start_ticks(pid))


def database_name(owner: Owner) -> str:
    return f"{PREFIX}{owner.where}_{owner.pid}_{owner.start_ticks}_{secrets.token_hex(3)}"


def owner_of(name: str) -> Owner | None:
    """The owner named in ``name``; None for a name this harness did not make so."""
    match = _NAME.match(name)
    if match is None:
        return None
    return Owner(match[1], int(match[2]), int(match[3]))


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def owner_alive(owner: Owner) -> bool:
    """False only when ``owner`` (of this boot and PID namespace) is provably gone."""
    if not _exists(owner.pid):
        return False
    try:
        return _start_ticks(owner.pid) == owner.start_ticks
    except OSError:
        # Exited since the first look, or hidden from this user (hidepid): only the
        # first is proof.
        return _exists(owner.pid)


def orphans(
    names: Iterable[str], where: str, alive: Callable[[Owner], bool] = owner_alive
) -> list[str]:
    """The names among ``names`` whose owner ran at ``where`` and is gone."""
    found = []
    for name in names:
        owner = owner_of(name)
        if owner is not None and owner.where == where and not alive(owner):
            found.append(name)
    return found


@dataclass
class Sweep:
    """What a sweep dropped, and the harness's databases it left because it cannot
    tell whether their owner is gone: another machine's or container's (``elsewhere``),
    and the earlier harness's names with no owner in them (``unowned``)."""

    dropped: list[str]
    elsewhere: list[str]
    unowned: list[str]


async def sweep(admin_dsn: str = POSTGRES_ADMIN_DSN, *, dry_run: bool = False) -> Sweep:
    """Drop the ``cw_load_*`` databases whose owner is gone (none with ``dry_run``)."""
    import asyncpg

    admin = await asyncpg.connect(admin_dsn, timeout=5)
    try:
        rows = await admin.fetch(
            "SELECT datname FROM pg_database WHERE left(datname, $1) = $2 ORDER BY 1",
            len(PREFIX),
            PREFIX,
        )
        names = [row["datname"] for row in rows]
        where = _where()
        dropped = orphans(names, where)
        if not dry_run:
            for name in dropped:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
    owners = {name: owner_of(name) for name in names}
    return Sweep(
        dropped,
        elsewhere=[name for name, owner in owners.items() if owner and owner.where != where],
        unowned=[name for name in names if _UNOWNED.match(name)],
    )


def report(result: Sweep, *, dry_run: bool = False) -> None:
    """The sweep on stderr: each database dropped, and the unowned ones left."""
    verb = "would drop" if dry_run else "dropped"
    for name in result.dropped:
        print(f"{verb} {name}: its load run is gone", file=sys.stderr)
    for name in result.elsewhere:
        print(f"left {name}: made on another machine or container", file=sys.stderr)
    for name in result.unowned:
        print(
            f"left {name}: named before databases carried their run's pid; if no load run "
            f"is up, drop it: psql -c 'DROP DATABASE \"{name}\" WITH (FORCE)'",
            file=sys.stderr,
        )


@contextlib.asynccontextmanager
async def database(kind: str) -> AsyncIterator[str | None]:
    """None for SQLite (the server's file); a throwaway PostgreSQL database otherwise,
    made after the sweep and dropped afterwards (a killed run's is swept by the next)."""
    if kind == "sqlite":
        yield None
        return
    import asyncpg

    report(await sweep())
    name = database_name(this_process())
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="Say what would be dropped.")
    args = parser.parse_args(argv)
    result = asyncio.run(sweep(dry_run=args.dry_run))
    report(result, dry_run=args.dry_run)
    if not (result.dropped or result.elsewhere or result.unowned):
        print("no load-run databases left behind", file=sys.stderr)


if __name__ == "__main__":
    main()
