"""500 rows with the scheduler in real processes on PostgreSQL: SIGKILLed mid-campaign
(while dialling) and restarted, and two processes at once. Each row's outcome is what
the fake Twilio API's script for its number says, retries wait their delay, nothing is
dialled outside its window (the lab's virtual wall time, sent to the processes with
each pass: ``runner``), never more calls up than the cap, no row dialled twice for one
attempt."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from callwright.domain.campaigns.outcomes import INTERRUPTED
from callwright.settings import Settings
from tests.calls.harness import FakeProviders, phone_lab
from tests.campaigns.lab import CampaignLab, expected
from tests.campaigns.processes import SchedulerProcess
from tests.conftest import make_tenant

pytestmark = pytest.mark.postgres

QUIET = {"webhook_delivery_enabled": False}
ROWS = 500
CAP = 25
LIMIT = 20
# Passes after which the process is killed (mid-dial) and a new one started.
KILL_AT = (3, 20, 40)


def _postgres_only(settings: Settings) -> None:
    if not settings.resolved_database_url.startswith("postgresql"):
        pytest.skip("server processes sharing a campaign are a PostgreSQL deployment")


def _judge(lab: CampaignLab, rows: list[dict[str, object]]) -> set[str]:
    """Every row as its script says, but rows whose dial a kill cut off: those are
    ``failed`` as interrupted and never dialled again. Returns their numbers."""
    assert len(rows) == ROWS
    dials = lab.dials_per_number()
    interrupted = {str(row["number"]) for row in rows if row["detail"] == INTERRUPTED}
    for row in rows:
        number = str(row["number"])
        script = lab.scripts[number]
        # No number is dialled more often than its script has attempts.
        assert dials[number] <= len(script), (number, dials[number])
        if number in interrupted:
            assert (row["status"], row["outcome"]) == ("failed", "failed"), row
            assert dials[number] <= row["attempts"], (row, dials[number])
            continue
        status, outcome, attempts = expected(script)
        assert (row["status"], row["outcome"], row["attempts"]) == (status, outcome, attempts), row
        call_ids = row["call_ids"]
        assert isinstance(call_ids, list), row
        assert len(call_ids) == attempts, row
        assert dials[number] == attempts, (number, dials[number])
    lab.assert_inside_windows()
    lab.assert_retries_waited()
    return interrupted


async def test_a_killed_scheduler_process_is_restarted_without_losing_or_repeating_a_row(
    settings: Settings, tmp_path: Path
) -> None:
    _postgres_only(settings)
    async with phone_lab(settings, FakeProviders(), **QUIET) as phone:
        tenant = await make_tenant(phone.app)
        lab = CampaignLab(phone, tenant, cap=CAP)
        await lab.create(rows=ROWS)
        server = phone.app.state.callwright.settings
        log = tmp_path / "scheduler.log"
        process = await SchedulerProcess.start(lab, server, log)
        nodes, mid_dial = {process.node_id}, 0
        try:
            for step in range(2000):
                if step in KILL_AT:
                    # The lab's step goes on around the dead pass: whatever reached
                    # Twilio is answered, time moves on; then a new process starts.
                    killer = process
                    await lab.step(_KillingPass(killer))
                    mid_dial += killer.killed_mid_dial
                    process = await SchedulerProcess.start(lab, server, log)
                    nodes.add(process.node_id)
                    continue
                await lab.step(process)
                if await lab.status() == "completed" and not lab.live:
                    break
            else:
                raise AssertionError("the campaign did not complete")
        finally:
            await process.stop()
        assert len(nodes) == len(KILL_AT) + 1  # every restart is a new node
        assert mid_dial >= 1, "no kill landed while the process was dialling"
        interrupted = _judge(lab, await lab.recipients())
        # A kill mid-dial leaves at most the dials in flight (8 at once) unsettled.
        assert len(interrupted) <= 8 * len(KILL_AT)
        assert 0 < lab.most_live <= CAP


async def test_two_scheduler_processes_share_a_campaign_and_the_organization_limit(
    settings: Settings, tmp_path: Path
) -> None:
    _postgres_only(settings)
    async with phone_lab(settings, FakeProviders(), **QUIET) as phone:
        tenant = await make_tenant(phone.app)
        lab = CampaignLab(phone, tenant, cap=CAP)
        await lab.create(rows=ROWS)
        async with httpx.AsyncClient(base_url=phone.base_url, headers=tenant.headers) as api:
            limited = await api.patch("/api/v1/organization", json={"max_concurrent_calls": LIMIT})
            assert limited.status_code == 200, limited.text
        server = phone.app.state.callwright.settings
        first = await SchedulerProcess.start(lab, server, tmp_path / "first.log")
        second = await SchedulerProcess.start(lab, server, tmp_path / "second.log")
        try:
            await lab.run_to_end(first, second)
        finally:
            await first.stop()
            await second.stop()
        assert lab.dialled_by[id(first)] > 0
        assert lab.dialled_by[id(second)] > 0
        interrupted = _judge(lab, await lab.recipients())
        assert not interrupted
        # The organization's limit, under the campaign's cap, held across both.
        assert 0 < lab.most_live <= LIMIT


class _KillingPass:
    """A pass of the lab's step that SIGKILLs its process mid-dial."""

    def __init__(self, process: SchedulerProcess) -> None:
        self._process = process

    async def tick(self) -> object:
        return await self._process.kill_mid_pass()
