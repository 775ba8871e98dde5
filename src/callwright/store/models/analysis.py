"""Post-call analysis jobs: one row per call whose analysis is due or done."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callwright.store.base import Base, BigIntPK, UtcDateTime, utcnow

__all__ = ["AnalysisJob"]


class AnalysisJob(Base):
    """A call's analysis to run off the call path, durable like the webhook outbox: a
    worker (in any process) takes a lease by compare-and-set, and a lease left by a
    dead worker expires. ``generation`` grows with each re-run, so the result of a run
    that was superseded is never written."""

    __tablename__ = "analysis_jobs"
    __table_args__ = (Index("ix_analysis_jobs_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    # "pending" | "done"
    status: Mapped[str] = mapped_column(String(16))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
