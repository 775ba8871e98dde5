"""A campaign scheduler in a process of its own, for tests that kill it for real.

``python -m tests.campaigns.runner`` reads the server's settings (JSON) from
``CALLWRIGHT_TEST_RUNNER_SETTINGS``, builds the app exactly as ``callwright serve`` does
(its own engine and connections, call runtime and node with a heartbeat) with the app's
own scheduler off, and runs a ``CampaignScheduler`` — the production class — whose wall
clock is injected by the test: each line ``tick <ISO time>`` on stdin sets the virtual
wall time and runs one scheduler pass (``CampaignScheduler.tick``, what ``run`` does
between sleeps), answered on stdout by ``@@ ticked <dialled> <failed> <settled> ok``
(``error`` instead of ``ok`` when the database failed the pass, which ``run`` logs
and survives).
This is the one test-only part: the time a pass believes it is. Everything the pass
does — claims, leases, dials through the fake Twilio REST API, commits — is the real
code on the real database, so a SIGKILL lands wherever the process happens to be.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from callwright.api.app import create_app
from callwright.domain.accounts.call_limit import LiveCallCount
from callwright.domain.campaigns.dialer import CallServiceDialer
from callwright.domain.campaigns.scheduler import CampaignScheduler
from callwright.settings import Settings

logger = logging.getLogger("tests.campaigns.runner")

SETTINGS_VARIABLE = "CALLWRIGHT_TEST_RUNNER_SETTINGS"
PREFIX = "@@ "


class InjectedWall:
    """The wall time the test last sent."""

    def __init__(self) -> None:
        self.now = datetime(2000, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class NoSleep:
    """The test runs each pass itself: the scheduler never sleeps here."""

    def now(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        raise AssertionError("the runner's passes are run one by one")


class Replies:
    """The answers to the test, on the process's original stdout; anything else the
    process prints (logs) goes to stderr, so it can never be taken for an answer."""

    def __init__(self) -> None:
        self._out = os.fdopen(os.dup(1), "w", buffering=1)
        os.dup2(2, 1)

    def say(self, line: str) -> None:
        self._out.write(PREFIX + line + "\n")
        self._out.flush()


async def main() -> None:
    replies = Replies()
    settings = Settings.model_validate_json(os.environ[SETTINGS_VARIABLE])
    app = create_app(settings)
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    async with app.router.lifespan_context(app):
        state = app.state.callwright
        wall = InjectedWall()
        scheduler = CampaignScheduler(
            state.session_factory,
            CallServiceDialer(state.secret_box, state.settings, state.calls),
            clock=NoSleep(),
            wall=wall,
            dial_lease=timedelta(minutes=2),
            live_calls=LiveCallCount.from_settings(state.settings),
        )
        replies.say(f"ready {state.node.id}")
        while line := (await commands.readline()).decode():
            verb, _, argument = line.strip().partition(" ")
            if verb == "tick":
                wall.now = datetime.fromisoformat(argument)
                report = None
                try:
                    report = await scheduler.tick()
                except* SQLAlchemyError:
                    # As ``CampaignScheduler.run`` does: the pass is logged and given up
                    # (a deadlock between two schedulers, the database restarting);
                    # leases bound what it left half done, the next pass starts over.
                    logger.exception("campaign scheduler pass failed")
                if report is None:
                    replies.say("ticked 0 0 0 error")
                else:
                    counts = f"{len(report.dialled)} {len(report.failed)} {report.settled}"
                    replies.say(f"ticked {counts} ok")
            elif verb == "quit":
                break
            else:
                replies.say(f"error unknown command {verb!r}")


if __name__ == "__main__":
    asyncio.run(main())
