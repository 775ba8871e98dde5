"""What a test needs that a developer's machine may lack: optional extras, Debian
programs, local services.

Locally, a missing one skips the test (or the module) with the reason. Under
``CI=true`` it fails instead: the runner installs every extra and starts every
service, so a skip there means a suite that silently did not run.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
from types import ModuleType
from typing import NoReturn

import pytest

__all__ = ["IN_CI", "require", "require_installed", "require_program", "unavailable"]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> NoReturn:
    """Skip with ``reason`` (the whole module when called at import); fail under CI."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: everything the suite needs must be there)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require(module: str, why: str) -> ModuleType:
    """Import ``module``, or skip (fail under CI) saying ``why`` the test needs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        unavailable(f"{why}: cannot import {module} ({exc})")


def require_installed(*modules: str, why: str) -> None:
    """Like ``require``, for modules the test needs installed but must not import
    itself (a server runs them in its own process, or importing has side effects)."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        unavailable(f"{why}: {', '.join(missing)} not installed")


def require_program(program: str, why: str) -> str:
    """The path of ``program`` on PATH, or skip (fail under CI) saying ``why``."""
    path = shutil.which(program)
    if path is None:
        unavailable(f"{why}: {program} is not on PATH")
    return path
