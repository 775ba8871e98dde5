"""The durable-job workers' poll loop: woken by a commit of this process, it runs the
due jobs again; a failure to claim is logged and the loop goes on."""

from __future__ import annotations

import asyncio
import logging

import pytest

from callwright.runtime.job_loop import poll_jobs
from callwright.store.wakeups import CommitWakeups

_HOUR = 3600.0  # never reached: the loop is woken by events only


async def test_a_failed_claim_is_logged_and_a_wake_up_runs_the_due_jobs_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wakeups = CommitWakeups("job-loop-test")
    failed, ran_again = asyncio.Event(), asyncio.Event()
    runs = 0

    async def run_due() -> int:
        nonlocal runs
        runs += 1
        if runs == 1:
            failed.set()
            raise RuntimeError("the database went away")
        ran_again.set()
        return 0

    logger = logging.getLogger("tests.job_loop")
    with caplog.at_level(logging.ERROR, logger="tests.job_loop"):
        async with asyncio.TaskGroup() as group:
            loop = group.create_task(
                poll_jobs(run_due, wakeups.subscribe, _HOUR, "widgets", logger)
            )
            await failed.wait()
            assert not ran_again.is_set()
            wakeups.wake()
            await ran_again.wait()
            loop.cancel()
    assert runs == 2
    assert [r.getMessage() for r in caplog.records] == ["widgets could not be claimed"]


async def test_without_a_wake_up_the_loop_waits() -> None:
    wakeups = CommitWakeups("job-loop-idle")
    ran = asyncio.Event()
    runs = 0

    async def run_due() -> int:
        nonlocal runs
        runs += 1
        ran.set()
        return 0

    async with asyncio.TaskGroup() as group:
        loop = group.create_task(
            poll_jobs(run_due, wakeups.subscribe, _HOUR, "widgets", logging.getLogger())
        )
        await ran.wait()
        for _ in range(20):  # let the loop go round, were it to
            await asyncio.sleep(0)
        loop.cancel()
    assert runs == 1
