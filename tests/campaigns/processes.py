"""A campaign scheduler running in a child process (``runner``), driven pass by pass on
the lab's virtual wall time, and killed with SIGKILL when a test says so."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from callwright.settings import Settings
from tests.campaigns.lab import CampaignLab
from tests.campaigns.runner import PREFIX, SETTINGS_VARIABLE

__all__ = ["SchedulerProcess", "Ticked"]

ROOT = Path(__file__).resolve().parents[2]
# A child's start-up (imports, migrations checked, node registered) and one pass are
# bounded, so a child that hangs fails the test instead of stalling it.
_START_S = 60.0
_PASS_S = 60.0


@dataclass(frozen=True)
class Ticked:
    """What a pass in the child reported (``TickReport``'s counts)."""

    dialled: list[int] = field(default_factory=list)
    failed: int = 0
    settled: int = 0


class SchedulerProcess:
    """One child process running the production ``CampaignScheduler``."""

    def __init__(self, process: asyncio.subprocess.Process, lab: CampaignLab, log: IO[bytes]):
        self._process = process
        self._lab = lab
        self._log = log
        self.node_id = ""
        self.killed_mid_dial = False
        # Passes the database failed (logged in the child, as the server logs them).
        self.failed_passes = 0

    @classmethod
    async def start(cls, lab: CampaignLab, settings: Settings, log_path: Path) -> SchedulerProcess:
        child = settings.model_copy(
            update={
                "campaign_scheduler_enabled": False,
                "webhook_delivery_enabled": False,
                "warm_up_models": False,
                # Its issued calls end through the lab's server (Twilio's callbacks go
                # there), which this process's own places never hear of: its per-process
                # limit is not what these tests are about.
                "max_concurrent_calls": 100_000,
            }
        )
        environment = {
            **os.environ,
            SETTINGS_VARIABLE: child.model_dump_json(),
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        }
        log = log_path.open("ab")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.campaigns.runner",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            env=environment,
            cwd=ROOT,
        )
        started = cls(process, lab, log)
        async with asyncio.timeout(_START_S):
            ready = await started._reply()
        assert ready.startswith("ready "), ready
        started.node_id = ready.removeprefix("ready ")
        return started

    async def _reply(self) -> str:
        assert self._process.stdout is not None
        while True:
            line = (await self._process.stdout.readline()).decode()
            if not line:
                code = await self._process.wait()
                self._log.flush()
                log = Path(str(self._log.name))
                tail = (await asyncio.to_thread(log.read_text, errors="replace"))[-4000:]
                raise AssertionError(f"the scheduler process exited ({code}):\n{tail}")
            if line.startswith(PREFIX):
                return line.removeprefix(PREFIX).strip()

    def _send_tick(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(f"tick {self._lab.now.isoformat()}\n".encode())

    async def tick(self) -> Ticked:
        """One pass in the child at the lab's virtual time."""
        self._send_tick()
        async with asyncio.timeout(_PASS_S):
            reply = await self._reply()
        verb, dialled, failed, settled, status = reply.split()
        assert verb == "ticked", reply
        self.failed_passes += status == "error"
        return Ticked([0] * int(dialled), int(failed), int(settled))

    async def kill_mid_pass(self) -> Ticked:
        """Start a pass and SIGKILL the process as soon as the fake Twilio API is asked
        to place a call (or, if the pass dials nothing, once it is done). Usable as a
        pass of ``CampaignLab.step``: the lab then answers whatever got through."""
        twilio = self._lab.lab.twilio
        dialling = asyncio.Event()

        async def on_create(form: dict[str, list[str]]) -> None:
            dialling.set()

        twilio.on_create_call = on_create
        try:
            self._send_tick()
            reply = asyncio.create_task(self._reply())
            dialled = asyncio.create_task(dialling.wait())
            async with asyncio.timeout(_PASS_S):
                await asyncio.wait({reply, dialled}, return_when=asyncio.FIRST_COMPLETED)
            self.killed_mid_dial = dialling.is_set() and not reply.done()
            await self.kill()
            for task in (reply, dialled):
                task.cancel()
            await asyncio.gather(reply, dialled, return_exceptions=True)
        finally:
            twilio.on_create_call = None
        return Ticked()

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs in the child."""
        if self._process.returncode is None:
            self._process.send_signal(signal.SIGKILL)
        await self._process.wait()
        self._log.close()
        assert self._process.returncode == -signal.SIGKILL

    async def stop(self) -> None:
        """Let the child finish (the test is done with it)."""
        if self._process.returncode is None:
            assert self._process.stdin is not None
            self._process.stdin.write(b"quit\n")
            try:
                async with asyncio.timeout(_START_S):
                    await self._process.wait()
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        self._log.close()
