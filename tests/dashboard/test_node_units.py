"""The dashboard's pure JavaScript helpers, tested by Node's own runner (no packages)."""

from __future__ import annotations

import subprocess

from tests.dashboard.sources import SOURCES
from tests.support.optional import require_program


def test_the_javascript_unit_tests_pass() -> None:
    node = require_program("node", "the dashboard's JavaScript tests (./dev installs Node)")
    tests = sorted(str(path) for path in (SOURCES / "tests").glob("*.test.js"))
    assert tests, "no JavaScript tests found"

    # A subprocess in a synchronous test: no event loop here to block.
    run = subprocess.run(
        [node, "--test", *tests], cwd=SOURCES, capture_output=True, text=True, timeout=120
    )

    assert run.returncode == 0, run.stdout + run.stderr
    assert "# fail 0" in run.stdout
