"""Migration 0010 on a database with assistants: each becomes version 1 of itself
(its settings and columns as they are), and the migration goes down and up again."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from callwright.store.migrate import alembic_config


def _migrate(engine: sa.Engine, direction: str, revision: str) -> None:
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)


def test_existing_assistants_start_at_version_one(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    _migrate(engine, "upgrade", "0009")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO organizations (id, name, created_at, updated_at) "
                "VALUES (1, 'Acme', '2026-12-01 00:00:00', '2026-12-01 00:00:00')"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO assistants (id, organization_id, name, description, is_active, "
                "external_id, config, created_at, updated_at) VALUES (7, 1, 'bot', 'old', 1, "
                "'ext-7', :config, '2026-12-01 00:00:00', '2026-12-02 00:00:00')"
            ),
            {"config": json.dumps({"llm_settings": {"temperature": 0.3}})},
        )
    _migrate(engine, "upgrade", "head")
    with engine.connect() as connection:
        version = connection.execute(sa.text("SELECT version FROM assistants")).scalar_one()
        rows = connection.execute(
            sa.text(
                "SELECT assistant_id, number, action, settings, changes FROM assistant_versions"
            )
        ).all()
    assert version == 1
    assert len(rows) == 1
    assistant_id, number, action, settings, changes = rows[0]
    assert (assistant_id, number, action) == (7, 1, "create")
    assert json.loads(settings) == {
        "llm_settings": {"temperature": 0.3},
        "name": "bot",
        "description": "old",
        "is_active": True,
        "external_id": "ext-7",
    }
    assert json.loads(changes) == []

    _migrate(engine, "downgrade", "0009")
    with engine.connect() as connection:
        tables = set(sa.inspect(connection).get_table_names())
        columns = {column["name"] for column in sa.inspect(connection).get_columns("assistants")}
    assert "assistant_versions" not in tables
    assert "test_runs" not in tables
    assert "version" not in columns
    _migrate(engine, "upgrade", "head")
    engine.dispose()
