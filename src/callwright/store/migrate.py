"""Programmatic migrations: upgrade to head, and tell whether a database is at head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from callwright.errors import InternalError

__all__ = ["DatabaseNotMigrated", "alembic_config", "check_at_head", "upgrade_to_head"]

_MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseNotMigrated(InternalError):
    """The database schema is not at the revision this code expects."""


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def _head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


async def upgrade_to_head(engine: AsyncEngine) -> None:
    def _upgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def check_at_head(engine: AsyncEngine) -> None:
    """Raise ``DatabaseNotMigrated`` with instructions unless the schema is at head."""

    def _current(connection: Connection) -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())

    async with engine.connect() as connection:
        current = await connection.run_sync(_current)
    expected = _head_revisions()
    if current != expected:
        found = ", ".join(sorted(current)) or "an empty database"
        raise DatabaseNotMigrated(
            f"the database is at {found} but this version of callwright needs "
            f"{', '.join(sorted(expected))}: run `callwright db upgrade` first"
        )
