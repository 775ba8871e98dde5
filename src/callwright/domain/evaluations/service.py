"""Rules of test suites: tests belong to an assistant the principal can see; a run
pins the assistant's current version and copies each test in, so that later edits
change neither; run overrides must make a valid assistant. Views render the stable
JSON the API returns (documented in the README)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.assistants.schemas import AssistantIn
from callwright.domain.assistants.service import AssistantService, check_rules, merge_settings
from callwright.domain.evaluations.jobs import PENDING, wake_after_commit
from callwright.domain.evaluations.repository import EvaluationRepository
from callwright.domain.evaluations.schemas import RunIn, TestIn, TestPatch
from callwright.domain.principal import Principal
from callwright.domain.validation import validate_as
from callwright.errors import NotFound, ValidationFailed
from callwright.security.crypto import SecretBox
from callwright.security.outbound import STRICT, OutboundPolicy
from callwright.store.base import utcnow
from callwright.store.models import AssistantTest, TestResult, TestRun

__all__ = ["EvaluationService", "result_view", "run_view", "test_view"]


def test_view(test: AssistantTest) -> dict[str, Any]:
    return {
        "id": test.id,
        "assistant_id": test.assistant_id,
        "name": test.name,
        "caller": test.definition["caller"],
        "expectations": test.definition["expectations"],
        "created_at": test.created_at,
        "updated_at": test.updated_at,
    }


def result_view(run: TestRun, result: TestResult) -> dict[str, Any]:
    base = f"/api/v1/assistants/{run.assistant_id}/tests/runs/{run.id}/results/{result.position}"
    return {
        "position": result.position,
        "test_id": result.test_id,
        "name": result.name,
        "status": result.status,
        "assistant_version": run.assistant_version,
        "verdicts": result.verdicts,
        "transcript": result.transcript,
        "tool_calls": result.tool_calls,
        "end_reason": result.end_reason,
        "timings": result.turns,
        "providers": result.providers,
        "recording_url": f"{base}/recording" if result.recording_key else None,
        "duration_seconds": result.duration_seconds,
        "error": result.error,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
    }


def run_view(
    run: TestRun, counts: dict[str, int], results: Sequence[TestResult] | None = None
) -> dict[str, Any]:
    passed, failed, errored = (counts.get(s, 0) for s in ("passed", "failed", "error"))
    done = passed + failed + errored
    progress = {
        "total": sum(counts.values()),
        "pending": counts.get("pending", 0),
        "running": counts.get("running", 0),
        "done": done,
        "passed": passed,
        "failed": failed,
        "errored": errored,
    }
    return {
        "id": run.id,
        "assistant_id": run.assistant_id,
        "assistant_version": run.assistant_version,
        "status": run.status,
        "overrides": run.overrides,
        "progress": progress,
        "passed": (failed == 0 and errored == 0) if run.status == "done" else None,
        "error": run.error,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "results": [result_view(run, r) for r in results] if results is not None else None,
    }


class EvaluationService:
    def __init__(
        self,
        session: AsyncSession,
        principal: Principal,
        box: SecretBox,
        *,
        outbound: OutboundPolicy = STRICT,
    ) -> None:
        self._session = session
        self._principal = principal
        self._outbound = outbound
        self._assistants = AssistantService(session, principal, box, outbound=outbound)
        self._repository = EvaluationRepository(session, principal)

    async def _assistant_id(self, identifier: str) -> int:
        return (await self._assistants.get(identifier)).row.id

    # -- tests -----------------------------------------------------------------------

    async def list_tests(self, identifier: str) -> list[dict[str, Any]]:
        assistant_id = await self._assistant_id(identifier)
        return [test_view(test) for test in await self._repository.tests(assistant_id)]

    async def _test(
        self, identifier: str, test_id: int, *, for_update: bool = False
    ) -> AssistantTest:
        assistant_id = await self._assistant_id(identifier)
        test = await self._repository.test(assistant_id, test_id, for_update=for_update)
        if test is None:
            raise NotFound(f"assistant {identifier} has no test {test_id}")
        return test

    async def get_test(self, identifier: str, test_id: int) -> dict[str, Any]:
        return test_view(await self._test(identifier, test_id))

    async def create_test(self, identifier: str, body: TestIn) -> dict[str, Any]:
        assistant_id = await self._assistant_id(identifier)
        now = utcnow()
        test = AssistantTest(
            organization_id=self._principal.organization_id,
            assistant_id=assistant_id,
            user_id=self._principal.user_id or None,
            name=body.name,
            definition=_definition(body.caller, body.expectations),
            created_at=now,
            updated_at=now,
        )
        self._repository.add(test)
        await self._repository.flush()
        return test_view(test)

    async def update_test(self, identifier: str, test_id: int, patch: TestPatch) -> dict[str, Any]:
        test = await self._test(identifier, test_id, for_update=True)
        current = validate_as(TestIn, {"name": test.name, **test.definition})
        updated = TestIn(
            name=patch.name or current.name,
            caller=patch.caller or current.caller,
            expectations=patch.expectations or current.expectations,
        )
        test.name = updated.name
        test.definition = _definition(updated.caller, updated.expectations)
        test.updated_at = utcnow()
        await self._repository.flush()
        return test_view(test)

    async def delete_test(self, identifier: str, test_id: int) -> None:
        """The test goes; runs keep their copy of it."""
        await self._repository.delete(await self._test(identifier, test_id))
        await self._repository.flush()

    # -- runs ------------------------------------------------------------------------

    async def start_run(self, identifier: str, body: RunIn) -> dict[str, Any]:
        """Queue a run of the chosen tests (all by default) on the assistant's current
        version; a worker runs it off the request."""
        stored = await self._assistants.get(identifier)
        assistant_id = stored.row.id
        tests = list(await self._repository.tests(assistant_id))
        if body.test_ids is not None:
            known = {test.id: test for test in tests}
            unknown = [test_id for test_id in body.test_ids if test_id not in known]
            if unknown:
                raise ValidationFailed(
                    f"test_ids: assistant {identifier} has no test "
                    + ", ".join(str(test_id) for test_id in unknown),
                    details=[
                        {
                            "field": "test_ids",
                            "message": f"unknown test id {test_id}",
                            "type": "value_error",
                            "loc": ["body", "test_ids"],
                        }
                        for test_id in unknown
                    ],
                )
            tests = [known[test_id] for test_id in dict.fromkeys(body.test_ids)]
        if not tests:
            raise ValidationFailed(f"assistant {identifier} has no tests to run")
        if body.overrides:
            document = stored.settings.model_dump(mode="json")
            merged = merge_settings(AssistantIn, document, body.overrides)
            try:
                settings = validate_as(AssistantIn, merged)
            except ValidationFailed as exc:
                raise ValidationFailed(f"overrides: {exc.message}", details=exc.details) from exc
            check_rules(settings, self._outbound, at=("overrides",))
        now = utcnow()
        run = TestRun(
            organization_id=self._principal.organization_id,
            assistant_id=assistant_id,
            assistant_version=stored.row.version,
            user_id=self._principal.user_id or None,
            status=PENDING,
            overrides=body.overrides,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        self._repository.add(run)
        await self._repository.flush()
        results = []
        for position, test in enumerate(tests, start=1):
            result = TestResult(
                run_id=run.id,
                test_id=test.id,
                position=position,
                name=test.name,
                definition=dict(test.definition),
                status=PENDING,
                transcript=[],
                tool_calls=[],
                turns=[],
                providers=[],
                verdicts=[],
            )
            self._repository.add(result)
            results.append(result)
        await self._repository.flush()
        wake_after_commit(self._session)
        return run_view(run, {PENDING: len(results)}, results)

    async def list_runs(
        self, identifier: str, *, version: int | None, skip: int, limit: int
    ) -> list[dict[str, Any]]:
        assistant_id = await self._assistant_id(identifier)
        runs = await self._repository.runs(assistant_id, version=version, skip=skip, limit=limit)
        counts = await self._repository.counts([run.id for run in runs])
        return [run_view(run, counts[run.id]) for run in runs]

    async def _run(self, identifier: str, run_id: int) -> TestRun:
        assistant_id = await self._assistant_id(identifier)
        run = await self._repository.run(assistant_id, run_id)
        if run is None:
            raise NotFound(f"assistant {identifier} has no test run {run_id}")
        return run

    async def get_run(self, identifier: str, run_id: int) -> dict[str, Any]:
        run = await self._run(identifier, run_id)
        results = await self._repository.results(run.id)
        counts: dict[str, int] = {}
        for result in results:
            counts[result.status] = counts.get(result.status, 0) + 1
        return run_view(run, counts, results)

    async def recording_key(self, identifier: str, run_id: int, position: int) -> str:
        run = await self._run(identifier, run_id)
        result = await self._repository.result(run.id, position)
        if result is None or result.recording_key is None:
            raise NotFound(f"test run {run_id} has no recording for test {position}")
        return result.recording_key


def _definition(caller: Any, expectations: Any) -> dict[str, Any]:
    return {
        "caller": caller.model_dump(mode="json", exclude_none=True),
        "expectations": expectations.model_dump(mode="json", exclude_none=True),
    }
