"""Debian's Chromium driven by Python Playwright, as /work/shared/BROWSER_TESTING.md
measured it: the system browser (never ``playwright install``), headless, and
optionally a WAV file as the microphone."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.conftest import IN_CI

CHROMIUM = Path("/usr/lib/chromium/chromium")


def require_browser(*modules: tuple[str, str]) -> None:
    """Skip the calling module where the browser (or the named ``(module, extra)``
    Python packages) are missing; under CI=true fail instead, so that a broken runner
    cannot pass by skipping."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"Debian chromium ({CHROMIUM})")
    if importlib.util.find_spec("playwright") is None:
        missing.append("Python Playwright (the dev extra)")
    for module, extra in modules:
        if importlib.util.find_spec(module) is None:
            missing.append(f"{module} (the {extra} extra)")
    if not missing:
        return
    reason = "the browser test needs " + ", ".join(missing)
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: it must run)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def launch_arguments(microphone: Path | None = None) -> list[str]:
    """Headless flags for a shared machine; with ``microphone``, that WAV played once
    into ``getUserMedia`` (``%noloop``: without it the file repeats)."""
    arguments = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--autoplay-policy=no-user-gesture-required",
    ]
    if microphone is not None:
        arguments = [
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={microphone}%noloop",
            *arguments,
        ]
    return arguments
