"""The server processes (nodes) that hold calls, and when each was last seen alive."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callwright.store.base import Base, UtcDateTime

__all__ = ["Node"]


class Node(Base):
    """One server process. ``heartbeat_at`` is refreshed while it runs; a node whose
    heartbeat is older than the expiry, or that has stopped (``stopped_at``), holds no
    live call any more, and its calls may be ended by any other node's sweep. A node
    with ``draining_since`` is shutting down: it takes no new call (it has left the
    fleet's capacity) while the calls it holds go on, live, until they end. Calls name
    their node in ``calls.node_id`` (no foreign key: a node's row is pruned once it
    holds no unfinished call, and the finished calls keep the name)."""

    __tablename__ = "nodes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime)
    draining_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
