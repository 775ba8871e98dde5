"""Test suites per assistant: tests (CRUD), runs of them as simulated calls (queued
for the test-run worker), and the runs' progress and verdicts (decision 023)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from callwright.api.deps import CurrentPrincipal, DbSession, StateDep
from callwright.api.openapi import errors
from callwright.api.routes.assistants import AssistantIdPath
from callwright.api.routing import CallwrightRoute
from callwright.domain.evaluations.schemas import (
    RunIn,
    TestIn,
    TestPatch,
    TestResponse,
    TestRunResponse,
)
from callwright.domain.evaluations.service import EvaluationService
from callwright.errors import NotFound

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/assistants/{assistant_id}/tests",
    tags=["assistant tests"],
    route_class=CallwrightRoute,
)

_ID = Path(ge=1, le=2**63 - 1)
TestIdPath = Annotated[int, _ID]
RunIdPath = Annotated[int, _ID]
PositionPath = Annotated[int, Path(ge=1, le=10_000, description="The test's place in the run.")]


async def get_evaluations(
    request: Request, session: DbSession, principal: CurrentPrincipal
) -> EvaluationService:
    state = request.app.state.callwright
    return EvaluationService(session, principal, state.secret_box, outbound=state.outbound)


EvaluationsDep = Annotated[EvaluationService, Depends(get_evaluations)]


@router.get("", operation_id="list_assistant_tests", responses=errors(401, 404, 422))
async def list_tests(
    assistant_id: AssistantIdPath, evaluations: EvaluationsDep
) -> list[TestResponse]:
    """The assistant's tests, oldest first."""
    tests = await evaluations.list_tests(assistant_id)
    return [TestResponse.model_validate(test) for test in tests]


@router.post(
    "",
    operation_id="create_assistant_test",
    status_code=201,
    responses=errors(401, 403, 404, 422),
)
async def create_test(
    assistant_id: AssistantIdPath, body: TestIn, evaluations: EvaluationsDep
) -> TestResponse:
    """Add a test: a caller (a script, or an LLM playing a persona) and expectations."""
    return TestResponse.model_validate(await evaluations.create_test(assistant_id, body))


@router.post(
    "/run",
    operation_id="run_assistant_tests",
    status_code=202,
    responses=errors(401, 403, 404, 422),
)
async def run_tests(
    assistant_id: AssistantIdPath,
    evaluations: EvaluationsDep,
    body: Annotated[RunIn | None, Body()] = None,
) -> TestRunResponse:
    """Queue a run of the tests (all, or ``test_ids``) on the assistant's current
    version; follow it at ``GET …/tests/runs/{run_id}``."""
    run = await evaluations.start_run(assistant_id, body or RunIn())
    return TestRunResponse.model_validate(run)


@router.get("/runs", operation_id="list_assistant_test_runs", responses=errors(401, 404, 422))
async def list_runs(
    assistant_id: AssistantIdPath,
    evaluations: EvaluationsDep,
    version: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="Only runs of this assistant version.")
    ] = None,
    skip: Annotated[int, Query(ge=0, le=2**31)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TestRunResponse]:
    """The assistant's runs, newest first, with their progress (no per-test results)."""
    runs = await evaluations.list_runs(assistant_id, version=version, skip=skip, limit=limit)
    return [TestRunResponse.model_validate(run) for run in runs]


@router.get(
    "/runs/{run_id}", operation_id="get_assistant_test_run", responses=errors(401, 404, 422)
)
async def get_run(
    assistant_id: AssistantIdPath, run_id: RunIdPath, evaluations: EvaluationsDep
) -> TestRunResponse:
    """A run: progress, and per test its status, verdicts, transcript and timings."""
    return TestRunResponse.model_validate(await evaluations.get_run(assistant_id, run_id))


@router.get(
    "/runs/{run_id}/results/{position}/recording",
    operation_id="get_assistant_test_recording",
    responses={200: {"content": {"audio/wav": {}}}, **errors(401, 404, 422)},
    response_class=Response,
)
async def get_recording(
    assistant_id: AssistantIdPath,
    run_id: RunIdPath,
    position: PositionPath,
    evaluations: EvaluationsDep,
    state: StateDep,
) -> Response:
    """A test's simulated call as a stereo WAV, caller left, assistant right."""
    key = await evaluations.recording_key(assistant_id, run_id, position)
    data = await state.recordings.get(key)
    if data is None:
        raise NotFound(f"test run {run_id} has no recording for test {position}")
    return Response(content=data, media_type="audio/wav")


@router.get("/{test_id}", operation_id="get_assistant_test", responses=errors(401, 404, 422))
async def get_test(
    assistant_id: AssistantIdPath, test_id: TestIdPath, evaluations: EvaluationsDep
) -> TestResponse:
    """One test."""
    return TestResponse.model_validate(await evaluations.get_test(assistant_id, test_id))


@router.patch(
    "/{test_id}", operation_id="update_assistant_test", responses=errors(401, 403, 404, 422)
)
async def update_test(
    assistant_id: AssistantIdPath,
    test_id: TestIdPath,
    body: TestPatch,
    evaluations: EvaluationsDep,
) -> TestResponse:
    """Replace the fields sent (each whole: caller, expectations, name)."""
    return TestResponse.model_validate(await evaluations.update_test(assistant_id, test_id, body))


@router.delete(
    "/{test_id}",
    operation_id="delete_assistant_test",
    status_code=204,
    responses=errors(401, 403, 404, 422),
)
async def delete_test(
    assistant_id: AssistantIdPath, test_id: TestIdPath, evaluations: EvaluationsDep
) -> None:
    """Delete a test; runs keep their copy of it."""
    await evaluations.delete_test(assistant_id, test_id)
