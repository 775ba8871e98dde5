"""Fixtures for the cloud STT contract tests (helpers live in ``support``)."""

from __future__ import annotations

import pytest

from tests.providers.stt.support import read_pcm16


@pytest.fixture(scope="session")
def book_table() -> bytes:
    """ "I would like to book a table for two." (~2 s of speech)."""
    return read_pcm16("book_table.wav")


@pytest.fixture(scope="session")
def open_tomorrow() -> bytes:
    """ "What time do you open tomorrow?"."""
    return read_pcm16("open_tomorrow.wav")
