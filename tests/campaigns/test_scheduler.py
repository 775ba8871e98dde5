"""Campaigns against the fake Twilio REST API on virtual wall time: every row ends with
the outcome its script says, retries wait their delay, nothing is dialled outside its
window, never more calls up than the cap, no number dialled more than its attempts —
also across a scheduler killed mid-pass, and with two schedulers at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from callwright.domain.campaigns.outcomes import INTERRUPTED
from callwright.domain.campaigns.windows import DAYS
from callwright.settings import Settings
from callwright.store.database import create_engine, create_session_factory
from tests.calls.harness import FakeProviders, phone_lab
from tests.campaigns.lab import OUR_NUMBERS, CampaignLab, expected
from tests.conftest import make_tenant

# The tests' schedulers run on virtual time (the app's own is off: conftest.py).
QUIET = {"webhook_delivery_enabled": False}


def _judge_rows(
    lab: CampaignLab, rows: list[dict[str, object]], *, interrupted: set[str] = frozenset()
) -> None:  # type: ignore[assignment]
    dials = lab.dials_per_number()
    assert len(rows) == len(lab.scripts)
    for row in rows:
        number = str(row["number"])
        if number in interrupted:
            continue
        status, outcome, attempts = expected(lab.scripts[number])
        assert (row["status"], row["outcome"], row["attempts"]) == (status, outcome, attempts), row
        call_ids = row["call_ids"]
        assert isinstance(call_ids, list), row
        assert len(call_ids) == attempts, row
        assert dials[number] == attempts, (number, dials[number])


async def test_a_campaign_completes_with_every_outcome_right(settings: Settings) -> None:
    async with phone_lab(settings, FakeProviders(), **QUIET) as phone:
        tenant = await make_tenant(phone.app)
        lab = CampaignLab(phone, tenant, cap=10)
        await lab.create(rows=210)
        scheduler = lab.scheduler()
        await lab.run_to_end(scheduler)

        _judge_rows(lab, await lab.recipients())
        lab.assert_inside_windows()
        lab.assert_retries_waited()
        assert 0 < lab.most_live <= 10
        # Both numbers of the pool were used, in turn.
        assert {dial.from_number for dial in lab.dials} == set(OUR_NUMBERS)
        # Nothing is dialled before 09:00 in London (07:00 UTC at the start) but Tokyo.
        first_hour = [d for d in lab.dials if d.at < lab.dials[0].at + timedelta(hours=1)]
        assert {lab.zones[d.number] for d in first_hour} == {"Asia/Tokyo"}


async def test_a_scheduler_killed_mid_pass_neither_loses_nor_repeats_a_row(
    settings: Settings,
) -> None:
    async with phone_lab(settings, FakeProviders(), **QUIET) as phone:
        tenant = await make_tenant(phone.app)
        lab = CampaignLab(phone, tenant, cap=6)
        await lab.create(rows=63)
        first = lab.scheduler()
        for _ in range(4):
            await lab.step(first)
        # The process dies while it dials: its pass is cut off wherever it is.
        dialled = asyncio.Event()
        before = len(phone.twilio.requests)

        async def on_create(form: dict[str, list[str]]) -> None:
            dialled.set()

        phone.twilio.on_create_call = on_create
        lab.now += timedelta(hours=2)  # London is open: there is work to claim
        pass_ = asyncio.create_task(first.tick())
        waiter = asyncio.create_task(dialled.wait())
        await asyncio.wait({pass_, waiter}, return_when=asyncio.FIRST_COMPLETED)
        pass_.cancel()
        waiter.cancel()
        await asyncio.gather(pass_, waiter, return_exceptions=True)
        phone.twilio.on_create_call = None
        assert len(phone.twilio.requests) > before

        # A new scheduler takes over; the dead one's leases expire on their own.
        await lab.run_to_end(lab.scheduler())

        rows = await lab.recipients()
        interrupted = frozenset(str(r["number"]) for r in rows if r["detail"] == INTERRUPTED)
        for row in rows:
            if str(row["number"]) in interrupted:
                # Cut off mid-dial: never dialled again, whether or not Twilio had it.
                assert (row["status"], row["outcome"]) == ("failed", "failed")
                assert lab.dials_per_number()[str(row["number"])] <= row["attempts"]
        _judge_rows(lab, rows, interrupted=interrupted)
        lab.assert_inside_windows()
        lab.assert_retries_waited()
        assert lab.most_live <= 6
        for number, count in lab.dials_per_number().items():
            assert count <= len(lab.scripts[number])


@pytest.mark.postgres
async def test_two_schedulers_share_a_campaign_on_postgres(settings: Settings) -> None:
    if not settings.resolved_database_url.startswith("postgresql"):
        pytest.skip("two schedulers at once are a PostgreSQL deployment")
    async with phone_lab(settings, FakeProviders(), **QUIET) as phone:
        tenant = await make_tenant(phone.app)
        lab = CampaignLab(phone, tenant, cap=5)
        await lab.create(rows=105)
        # Another process: its own engine and connections.
        other_engine = create_engine(settings.resolved_database_url)
        try:
            first = lab.scheduler()
            second = lab.scheduler(create_session_factory(other_engine))
            await lab.run_to_end(first, second)
            # Both took part, each holding the campaign in turn.
            assert lab.dialled_by[id(first)] > 0
            assert lab.dialled_by[id(second)] > 0
        finally:
            await other_engine.dispose()
        _judge_rows(lab, await lab.recipients())
        lab.assert_inside_windows()
        lab.assert_retries_waited()
        assert 0 < lab.most_live <= 5


async def test_a_draining_node_claims_no_row_and_leaves_them_to_the_fleet(
    settings: Settings,
) -> None:
    """A scheduler on a draining node neither dials nor claims: the rows stay due at
    once for the nodes still taking calls (not claimed, refused and put off here)."""
    async with phone_lab(settings, FakeProviders(), **QUIET) as phone:
        tenant = await make_tenant(phone.app)
        lab = CampaignLab(phone, tenant, cap=3)
        await lab.create(rows=3, window={"days": list(DAYS), "start": "00:00", "end": "23:59"})
        calls = phone.app.state.callwright.calls
        calls.draining = True
        report = await lab.scheduler().tick()
        rows = await lab.recipients()
        calls.draining = False
        taking = await lab.scheduler().tick()

    assert report.dialled == []
    assert [(r["status"], r["attempts"], r["next_attempt_at"]) for r in rows] == [
        ("pending", 0, None)
    ] * 3
    assert len(taking.dialled) == 3


async def test_the_apps_own_scheduler_places_the_calls(settings: Settings) -> None:
    """The scheduler the app starts in its lifespan dials a started campaign through
    the call service, with the row's variables, from the campaign's numbers."""
    async with phone_lab(
        settings,
        FakeProviders(),
        webhook_delivery_enabled=False,
        campaign_scheduler_enabled=True,
        campaign_poll_interval_seconds=0.05,
    ) as phone:
        tenant = await make_tenant(phone.app)
        dialled = asyncio.Event()

        async def on_create(form: dict[str, list[str]]) -> None:
            dialled.set()

        phone.twilio.on_create_call = on_create
        lab = CampaignLab(phone, tenant, cap=1)
        # Every day, all day: the real clock is inside the window whenever this runs.
        await lab.create(rows=1, window={"days": list(DAYS), "start": "00:00", "end": "23:59"})
        await dialled.wait()
        (create,) = [r for r in phone.twilio.requests if r[1].endswith("/Calls.json")]
        assert create[2]["To"] == ["+447700900000"]
        assert create[2]["From"][0] in OUR_NUMBERS
        rows = await lab.recipients()
        while not rows[0]["call_ids"]:  # the dial's transaction commits after Twilio answers
            await asyncio.sleep(0.01)
            rows = await lab.recipients()
        assert rows[0]["status"] == "in-progress"
        assert rows[0]["attempts"] == 1
