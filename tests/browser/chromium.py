"""Debian's Chromium driven by Python Playwright, as /work/shared/BROWSER_TESTING.md
measured it: the system browser (never ``playwright install``), headless, and
optionally a WAV file as the microphone."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.support.optional import unavailable

CHROMIUM = Path("/usr/lib/chromium/chromium")


def require_browser(*modules: tuple[str, str]) -> None:
    """Skip the calling module where the browser (or the named ``(module, extra)``
    Python packages) are missing; under CI=true fail instead (``unavailable``)."""
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
    unavailable("the browser test needs " + ", ".join(missing))


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
