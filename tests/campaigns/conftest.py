"""Campaign tests tick their own schedulers on virtual time: the app's own scheduler
(real time) stays off unless a test turns it on."""

from __future__ import annotations

import pytest

from callwright.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"campaign_scheduler_enabled": False})
