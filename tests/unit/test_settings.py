"""Settings.resolved_secret_key: the development key file, created once and read once."""

from __future__ import annotations

from pathlib import Path

import pytest

from callwright.settings import Settings, SettingsError


def test_the_development_key_is_created_once_then_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "a", secret_key="")
    key = settings.resolved_secret_key()
    key_file = tmp_path / "a" / "secret_key"
    assert key_file.read_text() == key
    assert key_file.stat().st_mode & 0o777 == 0o600
    # Later calls (every stream token, every signed link) do not touch the file.
    monkeypatch.setattr(Path, "read_text", lambda *a, **k: pytest.fail("read again"))
    assert settings.resolved_secret_key() == key
    monkeypatch.undo()
    # A fresh settings object on the same directory reads the same key back.
    assert Settings(data_dir=tmp_path / "a", secret_key="").resolved_secret_key() == key


def test_a_copy_for_another_directory_or_an_explicit_key_does_not_reuse_it(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "a", secret_key="")
    key = settings.resolved_secret_key()
    other = settings.model_copy(update={"data_dir": tmp_path / "b"})
    assert other.resolved_secret_key() != key
    assert (tmp_path / "b" / "secret_key").read_text() == other.resolved_secret_key()
    explicit = settings.model_copy(update={"secret_key": "x" * 40})
    assert explicit.resolved_secret_key() == "x" * 40


def test_a_node_expiry_shorter_than_two_heartbeats_is_refused() -> None:
    with pytest.raises(SettingsError, match="CALLWRIGHT_NODE_EXPIRY_S"):
        Settings(node_heartbeat_interval_s=10, node_expiry_s=15)
    assert Settings(node_heartbeat_interval_s=10, node_expiry_s=20).node_expiry_s == 20
