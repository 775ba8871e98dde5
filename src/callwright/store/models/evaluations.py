"""Test suites per assistant: the tests, their runs, and each test's result in a run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callwright.store.base import Base, BigIntPK, JsonDocument, UtcDateTime, utcnow

__all__ = ["AssistantTest", "TestResult", "TestRun"]


class AssistantTest(Base):
    """A test of an assistant: a simulated caller (a script or an LLM playing a
    persona) and what the assistant must do, validated by ``domain.evaluations``."""

    __tablename__ = "assistant_tests"
    __table_args__ = (Index("ix_assistant_tests_assistant", "assistant_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    assistant_id: Mapped[int] = mapped_column(ForeignKey("assistants.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    # {"caller": {...}, "expectations": {...}}
    definition: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class TestRun(Base):
    """A run of some of an assistant's tests on one of its versions, as a durable job:
    a worker leases it (``locked_until``) and a lease left by a dead worker expires, so
    a restart resumes the run at its first unfinished test."""

    __tablename__ = "test_runs"
    __table_args__ = (
        Index("ix_test_runs_assistant", "assistant_id", "id"),
        Index("ix_test_runs_due", "status", "locked_until"),
    )
    __test__ = False  # not a pytest class

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    assistant_id: Mapped[int] = mapped_column(ForeignKey("assistants.id", ondelete="CASCADE"))
    assistant_version: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # "pending" | "running" | "done"
    status: Mapped[str] = mapped_column(String(16))
    # Settings merged over the version's for this run (other providers), like a
    # call's assistant_overrides.
    overrides: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class TestResult(Base):
    """One test's outcome in a run. The test's definition is copied in when the run
    starts, so editing or deleting the test later leaves the run's record whole."""

    __tablename__ = "test_results"
    __table_args__ = (Index("ix_test_results_run", "run_id", "position"),)
    __test__ = False  # not a pytest class

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("test_runs.id", ondelete="CASCADE"))
    test_id: Mapped[int | None] = mapped_column(
        ForeignKey("assistant_tests.id", ondelete="SET NULL")
    )
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    # "pending" | "running" | "passed" | "failed" | "error"
    status: Mapped[str] = mapped_column(String(16))
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument, default=list)
    tool_calls: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument, default=list)
    turns: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument, default=list)
    providers: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument, default=list)
    verdicts: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument, default=list)
    end_reason: Mapped[str | None] = mapped_column(String(64))
    recording_key: Mapped[str | None] = mapped_column(String(200))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
