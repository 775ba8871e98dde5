"""The dashboard's pure JavaScript helpers, tested by Node's own runner (no packages)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import IN_CI
from tests.dashboard.sources import SOURCES


def test_the_javascript_unit_tests_pass() -> None:
    node = shutil.which("node")
    if node is None:
        if IN_CI:
            pytest.fail("Node.js is missing (CI=true: ./dev installs it)", pytrace=False)
        pytest.skip("Node.js is missing (./dev installs it)")
    tests = sorted(str(path) for path in (SOURCES / "tests").glob("*.test.js"))
    assert tests, "no JavaScript tests found"

    # A subprocess in a synchronous test: no event loop here to block.
    run = subprocess.run(
        [node, "--test", *tests], cwd=SOURCES, capture_output=True, text=True, timeout=120
    )

    assert run.returncode == 0, run.stdout + run.stderr
    assert "# fail 0" in run.stdout
