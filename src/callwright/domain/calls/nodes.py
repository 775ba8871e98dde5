"""The nodes (server processes) that hold calls: registration, heartbeat, stop, and
pruning the rows of nodes that are gone. Every query on ``nodes``; the sweep of their
calls is ``repository.sweep_orphaned_calls``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.store.call_status import CallStatus
from callwright.store.models import Call, Node

__all__ = ["beat", "prune_gone_nodes", "register_node", "stop_node"]


async def register_node(
    session: AsyncSession, node_id: str, *, hostname: str, pid: int, now: datetime
) -> None:
    """Add this node, alive as of ``now``."""
    session.add(Node(id=node_id, hostname=hostname, pid=pid, started_at=now, heartbeat_at=now))
    await session.flush()


async def beat(session: AsyncSession, node_id: str, now: datetime) -> bool:
    """Refresh the node's heartbeat. False when its row is gone or stopped: other nodes
    took it for dead (its heartbeat had expired) and may have ended its calls."""
    result = await session.execute(
        update(Node).where(Node.id == node_id, Node.stopped_at.is_(None)).values(heartbeat_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def stop_node(session: AsyncSession, node_id: str, now: datetime) -> None:
    """The node stops (a clean shutdown): whatever call it still holds is an orphan at
    once, ended as of ``now``."""
    await session.execute(
        update(Node).where(Node.id == node_id).values(heartbeat_at=now, stopped_at=now)
    )


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
