"""The nodes (server processes) that hold calls: registration, heartbeat, drain, stop,
the fleet as it stands, and pruning the rows of nodes that are gone. Every query on
``nodes``; the sweep of their calls is ``repository.sweep_orphaned_calls``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.store.call_status import CallStatus
from callwright.store.models import Call, Node

__all__ = [
    "NodeState",
    "beat",
    "fleet",
    "mark_draining",
    "prune_gone_nodes",
    "register_node",
    "stop_node",
]


async def register_node(
    session: AsyncSession,
    node_id: str,
    *,
    hostname: str,
    pid: int,
    now: datetime,
    draining_since: datetime | None = None,
) -> None:
    """Add this node, alive as of ``now`` (and draining since ``draining_since``: a
    draining node registering again after it was taken for dead stays out of the
    fleet's capacity)."""
    session.add(
        Node(
            id=node_id,
            hostname=hostname,
            pid=pid,
            started_at=now,
            heartbeat_at=now,
            draining_since=draining_since,
        )
    )
    await session.flush()


async def beat(session: AsyncSession, node_id: str, now: datetime) -> bool:
    """Refresh the node's heartbeat. False when its row is gone or stopped: other nodes
    took it for dead (its heartbeat had expired) and may have ended its calls."""
    result = await session.execute(
        update(Node).where(Node.id == node_id, Node.stopped_at.is_(None)).values(heartbeat_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark_draining(session: AsyncSession, node_id: str, since: datetime) -> bool:
    """The node takes no new call from ``since`` on (kept if it was set before: the
    drain began once). Its heartbeat is untouched: its calls are live and stay so.
    False when its row is gone or stopped."""
    result = await session.execute(
        update(Node)
        .where(Node.id == node_id, Node.stopped_at.is_(None))
        .values(draining_since=func.coalesce(Node.draining_since, since))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def stop_node(session: AsyncSession, node_id: str, now: datetime) -> None:
    """The node stops (a clean shutdown): whatever call it still holds is an orphan at
    once, ended as of ``now``."""
    await session.execute(
        update(Node).where(Node.id == node_id).values(heartbeat_at=now, stopped_at=now)
    )


@dataclass(frozen=True, slots=True)
class NodeState:
    """One node as the fleet sees it: ``state`` is ``taking-calls``, ``draining`` (no
    new call; its calls still live and counted), ``stopped`` or ``silent`` (its
    heartbeat expired: its calls are the sweep's). ``calls`` it holds, not yet ended."""

    id: str
    hostname: str
    pid: int
    state: str
    started_at: datetime
    heartbeat_at: datetime
    draining_since: datetime | None
    calls: int


def _state(node: Node, live_since: datetime) -> str:
    if node.stopped_at is not None:
        return "stopped"
    if node.heartbeat_at < live_since:
        return "silent"
    return "draining" if node.draining_since is not None else "taking-calls"


async def fleet(session: AsyncSession, *, live_since: datetime) -> list[NodeState]:
    """Every node the table still has (gone ones until pruned), oldest first, with the
    calls each holds; a node silent since before ``live_since`` is gone."""
    held = (
        select(Call.node_id, func.count().label("calls"))
        .where(Call.status != CallStatus.ENDED, Call.node_id.is_not(None))
        .group_by(Call.node_id)
        .subquery()
    )
    rows = await session.execute(
        select(Node, func.coalesce(held.c.calls, 0))
        .outerjoin(held, held.c.node_id == Node.id)
        .order_by(Node.started_at, Node.id)
    )
    return [
        NodeState(
            id=node.id,
            hostname=node.hostname,
            pid=node.pid,
            state=_state(node, live_since),
            started_at=node.started_at,
            heartbeat_at=node.heartbeat_at,
            draining_since=node.draining_since,
            calls=int(calls),
        )
        for node, calls in rows.all()
    ]


async def prune_gone_nodes(session: AsyncSession, *, live_since: datetime) -> int:
    """Delete the rows of nodes that are gone (stopped, or silent since before
    ``live_since``) and hold no unfinished call: their last heartbeat is needed no more."""
    unfinished = exists().where(Call.node_id == Node.id, Call.status != CallStatus.ENDED)
    result = await session.execute(
        delete(Node)
        .where(
            or_(Node.stopped_at.is_not(None), Node.heartbeat_at < live_since),
            ~unfinished,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
