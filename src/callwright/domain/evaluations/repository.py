"""Every query on tests, runs and results that a request makes, filtered to the
principal's organization; the assistant itself is found through ``AssistantService``
first, so a principal that cannot see the assistant sees none of its tests."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.principal import Principal
from callwright.store.models import AssistantTest, TestResult, TestRun

__all__ = ["EvaluationRepository"]


class EvaluationRepository:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self._session = session
        self._organization_id = principal.organization_id

    async def tests(self, assistant_id: int) -> Sequence[AssistantTest]:
        query = (
            select(AssistantTest)
            .where(
                AssistantTest.organization_id == self._organization_id,
                AssistantTest.assistant_id == assistant_id,
            )
            .order_by(AssistantTest.id)
        )
        return (await self._session.execute(query)).scalars().all()

    async def test(
        self, assistant_id: int, test_id: int, *, for_update: bool = False
    ) -> AssistantTest | None:
        query = select(AssistantTest).where(
            AssistantTest.organization_id == self._organization_id,
            AssistantTest.assistant_id == assistant_id,
            AssistantTest.id == test_id,
        )
        if for_update:
            query = query.with_for_update()
        return (await self._session.execute(query)).scalar_one_or_none()

    async def runs(
        self, assistant_id: int, *, version: int | None, skip: int, limit: int
    ) -> Sequence[TestRun]:
        query = select(TestRun).where(
            TestRun.organization_id == self._organization_id,
            TestRun.assistant_id == assistant_id,
        )
        if version is not None:
            query = query.where(TestRun.assistant_version == version)
        query = query.order_by(TestRun.id.desc()).offset(skip).limit(limit)
        return (await self._session.execute(query)).scalars().all()

    async def run(self, assistant_id: int, run_id: int) -> TestRun | None:
        query = select(TestRun).where(
            TestRun.organization_id == self._organization_id,
            TestRun.assistant_id == assistant_id,
            TestRun.id == run_id,
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def results(self, run_id: int) -> Sequence[TestResult]:
        query = select(TestResult).where(TestResult.run_id == run_id).order_by(TestResult.position)
        return (await self._session.execute(query)).scalars().all()

    async def result(self, run_id: int, position: int) -> TestResult | None:
        query = select(TestResult).where(
            TestResult.run_id == run_id, TestResult.position == position
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def counts(self, run_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """Per run, how many of its results are in each status."""
        if not run_ids:
            return {}
        query = (
            select(TestResult.run_id, TestResult.status, func.count())
            .where(TestResult.run_id.in_(run_ids))
            .group_by(TestResult.run_id, TestResult.status)
        )
        counts: dict[int, dict[str, int]] = {run_id: {} for run_id in run_ids}
        for run_id, status, count in (await self._session.execute(query)).all():
            counts[run_id][status] = count
        return counts

    def add(self, row: AssistantTest | TestRun | TestResult) -> None:
        self._session.add(row)

    async def delete(self, row: AssistantTest) -> None:
        await self._session.delete(row)

    async def flush(self) -> None:
        await self._session.flush()
