"""Fixtures shared by the runtime's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from callwright.runtime.providers_cloud import CloudProviders


@pytest.fixture
async def cloud() -> AsyncIterator[CloudProviders]:
    """The process's cloud adapters, closed after the test."""
    providers = CloudProviders()
    try:
        yield providers
    finally:
        await providers.aclose()
