"""A campaign against the fake Twilio REST API on virtual wall time: ``CampaignLab``
steps the schedulers' clock, answers each call with the outcome scripted for its number
and attempt (through Twilio's signed status callback; a voicemail through the call
runtime, as answering-machine detection would end it), and records every dial with the
virtual time it was placed at, so tests can judge windows, caps, retries and repeats."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, Protocol

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.accounts.call_limit import LiveCallCount
from callwright.domain.campaigns.dialer import CallServiceDialer
from callwright.domain.campaigns.scheduler import CampaignScheduler
from callwright.domain.campaigns.windows import zone
from callwright.engine.events import EndReason
from callwright.store.models import Call, Campaign, CampaignRecipient
from tests.calls.harness import ACCOUNT_SID, AUTH_TOKEN, PhoneLab, twilio_post
from tests.campaigns.helpers import NoSleep
from tests.conftest import Tenant

# A Monday, 07:00 UTC: London opens at 09:00 UTC, New York at 14:00 UTC, and Tokyo's
# window (09:00-17:00 JST = 00:00-08:00 UTC) is open for one more hour.
MONDAY_0700 = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
OUR_NUMBERS = ("+14155550199", "+14155550198")
ZONES = (None, "America/New_York", "Asia/Tokyo")
SCRIPTS: tuple[tuple[str, ...], ...] = (
    ("completed",),
    ("busy", "completed"),
    ("busy", "busy", "busy"),
    ("no-answer", "completed"),
    ("voicemail",),
    ("failed", "failed"),
    ("no-answer", "no-answer", "no-answer"),
)
POLICY = {
    "busy": {"max_retries": 2, "retry_after_seconds": 120},
    "no-answer": {"max_retries": 2, "retry_after_seconds": 300},
    "failed": {"max_retries": 1, "retry_after_seconds": 60},
    "voicemail": {"max_retries": 0, "retry_after_seconds": 3600},
}
STEP = timedelta(seconds=60)


def expected(script: tuple[str, ...]) -> tuple[str, str, int]:
    """(status, outcome, attempts) a row with this script must end with."""
    last = script[-1]
    return ("completed" if last == "completed" else "failed", last, len(script))


class Passes(Protocol):
    """A scheduler as the lab drives it: here (``CampaignScheduler``) or in a process
    of its own (``processes.SchedulerProcess``); a pass reports what it dialled."""

    async def tick(self) -> Any: ...


@dataclass(frozen=True)
class Dial:
    number: str
    at: datetime
    from_number: str


@dataclass
class CampaignLab:
    lab: PhoneLab
    tenant: Tenant
    cap: int
    now: datetime = MONDAY_0700
    scripts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    zones: dict[str, str] = field(default_factory=dict)
    dials: list[Dial] = field(default_factory=list)
    campaign_id: int = 0
    # call id -> steps it has been live; calls are answered one step after they start
    live: dict[int, int] = field(default_factory=dict)
    most_live: int = 0
    steps: int = 0
    # dials per scheduler (by id)
    dialled_by: Counter[int] = field(default_factory=Counter)
    _seen_requests: int = 0

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        factory: async_sessionmaker[AsyncSession] = self.lab.app.state.callwright.session_factory
        return factory

    def scheduler(
        self, sessions: async_sessionmaker[AsyncSession] | None = None, *, org_hint: bool = True
    ) -> CampaignScheduler:
        """A scheduler as the app builds one; without ``org_hint`` it claims rows
        regardless of the organization's limit (the dial alone holds it)."""
        state = self.lab.app.state.callwright
        return CampaignScheduler(
            sessions or self.sessions,
            CallServiceDialer(state.secret_box, state.settings, state.calls),
            clock=NoSleep(),
            wall=lambda: self.now,
            dial_lease=timedelta(minutes=2),
            live_calls=LiveCallCount.from_settings(state.settings) if org_hint else None,
            taking_calls=lambda: not state.calls.draining,
        )

    async def create(self, rows: int, *, window: dict[str, Any] | None = None) -> None:
        async with httpx.AsyncClient(
            base_url=self.lab.base_url, headers=self.tenant.headers
        ) as api:
            assistant = await api.post(
                "/api/v1/assistants",
                json={
                    "name": "Reminder",
                    "twilio_config": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
                    "idle_timeout": None,
                },
            )
            assert assistant.status_code == 201, assistant.text
            number_ids = []
            for number in OUR_NUMBERS:
                self.lab.twilio.own(number)
                created = await api.post(
                    "/api/v1/phone-numbers",
                    json={"number": number, "assistant_id": assistant.json()["id"]},
                )
                assert created.status_code == 201, created.text
                number_ids.append(created.json()["id"])
            campaign = await api.post(
                "/api/v1/campaigns",
                json={
                    "name": "Reminders",
                    "assistant_id": assistant.json()["id"],
                    "phone_number_ids": number_ids,
                    "calling_window": window or {"days": ["mon", "tue", "wed", "thu", "fri"]},
                    "max_concurrency": self.cap,
                    "retry_policy": POLICY,
                },
            )
            assert campaign.status_code == 201, campaign.text
            self.campaign_id = campaign.json()["id"]
            recipients = []
            for index in range(rows):
                number = f"+4477009{index:05d}"
                timezone = ZONES[index % len(ZONES)]
                self.scripts[number] = SCRIPTS[index % len(SCRIPTS)]
                self.zones[number] = timezone or "Europe/London"
                row: dict[str, Any] = {"number": number, "variables": {"row": str(index)}}
                if timezone:
                    row["timezone"] = timezone
                recipients.append(row)
            uploaded = await api.post(
                f"/api/v1/campaigns/{self.campaign_id}/recipients", json=recipients
            )
            assert uploaded.json() == {"accepted": rows, "rejected": []}
            started = await api.post(f"/api/v1/campaigns/{self.campaign_id}/start")
            assert started.status_code == 200, started.text

    def _collect_dials(self) -> int:
        requests = self.lab.twilio.requests
        fresh = [
            r
            for r in requests[self._seen_requests :]
            if r[0] == "POST" and r[1].endswith("/Calls.json")
        ]
        self._seen_requests = len(requests)
        for _, _, form in fresh:
            self.dials.append(Dial(form["To"][0], self.now, form["From"][0]))
        return len(fresh)

    async def _open_calls(self) -> list[Call]:
        async with self.sessions() as session:
            query = select(Call).where(Call.type == "outboundPhoneCall", Call.status != "ended")
            return list((await session.execute(query)).scalars().all())

    async def _answer(self, call: Call) -> None:
        assert call.to_number is not None
        previous = sum(
            1 for dial in self.dials if dial.number == call.to_number
        )  # dials so far, this one included
        outcome = self.scripts[call.to_number][previous - 1]
        if outcome == "voicemail":
            await self.lab.app.state.callwright.calls.end_unstarted(
                call.id, EndReason.VOICEMAIL, "answering machine"
            )
            return
        status = {
            "completed": "completed",
            "busy": "busy",
            "no-answer": "no-answer",
            "failed": "failed",
        }[outcome]
        answer = await twilio_post(
            self.lab.base_url,
            "/telephony/twilio/status",
            {
                "AccountSid": ACCOUNT_SID,
                "CallSid": call.provider_call_id or "",
                "CallStatus": status,
            },
        )
        assert answer.status_code == 204, answer.text

    async def step(self, *schedulers: Passes) -> int:
        """One pass of every scheduler at once, then the far ends answer the calls that
        have been up for a step, then time moves on. Returns the dials placed."""
        # Several schedulers start in turn: each gets to be first to the campaign.
        order = list(schedulers)
        order = order[self.steps % len(order) :] + order[: self.steps % len(order)]
        self.steps += 1
        reports = await asyncio.gather(*(scheduler.tick() for scheduler in order))
        for scheduler, report in zip(order, reports, strict=True):
            self.dialled_by[id(scheduler)] += len(report.dialled)
        dialled = self._collect_dials()
        open_calls = await self._open_calls()
        self.most_live = max(self.most_live, len(open_calls))
        answering = []
        for call in open_calls:
            age = self.live.get(call.id, 0)
            if age >= 1:
                answering.append(call)
                self.live.pop(call.id, None)
            else:
                self.live[call.id] = age + 1
        # The far ends answer together, a few callbacks at a time: a status callback
        # takes two of the server's database connections at once (its request's and
        # the ended call's), so a burst larger than its pool would wait on itself.
        slots = asyncio.Semaphore(4)

        async def answer(call: Call) -> None:
            async with slots:
                await self._answer(call)

        await asyncio.gather(*(answer(call) for call in answering))
        await self._advance(dialled, bool(open_calls))
        return dialled

    async def _advance(self, dialled: int, calls_up: bool) -> None:
        if dialled or calls_up:
            self.now += STEP
            return
        # Nothing up and nothing dialled: jump to the next row due (a retry's delay or
        # a window's opening) rather than step through the night a minute at a time.
        async with self.sessions() as session:
            due = (
                (
                    await session.execute(
                        select(CampaignRecipient.next_attempt_at).where(
                            CampaignRecipient.campaign_id == self.campaign_id,
                            CampaignRecipient.status.in_(("pending", "retrying")),
                            CampaignRecipient.next_attempt_at > self.now,
                        )
                    )
                )
                .scalars()
                .all()
            )
        self.now = min((moment for moment in due if moment is not None), default=self.now + STEP)

    async def status(self) -> str:
        async with self.sessions() as session:
            campaign = await session.get(Campaign, self.campaign_id)
            assert campaign is not None
            return campaign.status

    async def run_to_end(self, *schedulers: Passes, steps: int = 2000) -> None:
        for _ in range(steps):
            await self.step(*schedulers)
            if await self.status() == "completed" and not self.live:
                return
        raise AssertionError(f"the campaign did not complete in {steps} steps")

    async def recipients(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(
            base_url=self.lab.base_url, headers=self.tenant.headers
        ) as api:
            rows: list[dict[str, Any]] = []
            while True:
                page = await api.get(
                    f"/api/v1/campaigns/{self.campaign_id}/recipients",
                    params={"skip": len(rows), "limit": 1000},
                )
                assert page.status_code == 200, page.text
                if not page.json():
                    return rows
                rows.extend(page.json())

    # -- judgements ------------------------------------------------------------------

    def assert_inside_windows(self) -> None:
        for dial in self.dials:
            local = dial.at.astimezone(zone(self.zones[dial.number]))
            assert local.weekday() < 5, (dial, local)
            assert 9 <= local.hour < 17, (dial, local)

    def assert_retries_waited(self) -> None:
        by_number: dict[str, list[Dial]] = defaultdict(list)
        for dial in self.dials:
            by_number[dial.number].append(dial)
        for number, dials in by_number.items():
            script = self.scripts[number]
            for attempt, (before, after) in enumerate(pairwise(dials)):
                delay = POLICY[script[attempt]]["retry_after_seconds"]
                assert after.at - before.at >= timedelta(seconds=delay), (number, before, after)

    def dials_per_number(self) -> Counter[str]:
        return Counter(dial.number for dial in self.dials)
