"""``callwright serve | db upgrade | admin ...``."""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.accounts.service import AccountsService
from callwright.domain.assistants.service import load_assistant_for_call
from callwright.domain.calls.nodes import NodeState, fleet
from callwright.errors import CallwrightError
from callwright.security.outbound import OutboundPolicy
from callwright.settings import Settings, SettingsError
from callwright.store.base import utcnow
from callwright.store.database import create_engine, create_session_factory
from callwright.store.migrate import DatabaseNotMigrated, check_at_head, upgrade_to_head

__all__ = ["main"]

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def _in_unit_of_work(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction against a migrated database."""

    async def run() -> T:
        engine = create_engine(settings.resolved_database_url)
        try:
            await check_at_head(engine)
            async with create_session_factory(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except CallwrightError as exc:  # DatabaseNotMigrated included
        raise click.ClickException(str(exc)) from exc


@click.group()
def main() -> None:
    """callwright: self-hostable voice AI assistants."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Server processes sharing the port, each its own node "
    "[default: one per core with REDIS_URL, else 1].",
)
def serve(host: str, port: int, workers: int | None) -> None:
    """Run the API server (migrating an embedded SQLite database first). SIGTERM or
    SIGINT drains every process before it stops (calls in progress finish, up to
    CALLWRIGHT_DRAIN_TIMEOUT_S); a second Ctrl-C stops at once."""
    from callwright.cli.serving import default_workers, run_server
    from callwright.observability.logging import configure_logging

    settings = _settings()
    configure_logging(json=settings.log_format == "json", level=settings.log_level)
    processes = _processes(settings, workers, default_workers())

    async def prepare() -> None:
        engine = create_engine(settings.resolved_database_url)
        try:
            if settings.should_auto_migrate:
                await upgrade_to_head(engine)
            await check_at_head(engine)
        finally:
            await engine.dispose()

    # Once, before any worker starts: the schema, the first run's account, and the
    # development key file (the workers read it, none of them races to create it).
    try:
        asyncio.run(prepare())
    except DatabaseNotMigrated as exc:
        raise click.ClickException(str(exc)) from exc
    if not settings.is_production:
        _in_unit_of_work(settings, functools.partial(_bootstrap_first_run, settings))
    settings.resolved_secret_key()
    plural = "es" if processes > 1 else ""
    click.echo(
        f"callwright {settings.resolved_database_url.split('://')[0]} on "
        f"http://{host}:{port} ({processes} process{plural})"
    )
    run_server(host, port, processes)


def _processes(settings: Settings, asked: int | None, cores: int) -> int:
    """How many server processes: as asked, else one per core. Without Redis, live
    control (``end``, ``say``) reaches a call only from the process holding it, so the
    default is then one process, and more when asked for come with a warning."""
    if settings.redis_url:
        return asked or cores
    limitation = (
        "without REDIS_URL, POST /calls/{id}/end and /say reach a call only on the "
        "process holding it (the others answer 503)"
    )
    if asked is None:
        if cores > 1:
            click.echo(f"serving 1 process, not {cores}: {limitation}; set REDIS_URL", err=True)
        return 1
    if asked > 1:
        click.echo(f"warning: {asked} processes {limitation}", err=True)
    return asked


async def _bootstrap_first_run(settings: Settings, session: AsyncSession) -> None:
    """On an empty development database, create an organization, a user and a key,
    so that the API can be used at once."""
    accounts = AccountsService(session)
    if await accounts.has_any_organization():
        return
    organization = await accounts.create_organization(
        "Default", max_concurrent_calls=settings.organization_max_concurrent_calls
    )
    password = secrets.token_urlsafe(12)
    user = await accounts.create_user(organization.id, "admin@localhost", password)
    _, key = await accounts.issue_api_key(organization.id, user.id, "bootstrap", "organization")
    click.echo(
        "First run: created organization 'Default' "
        f"(id {organization.id}), user admin@localhost (password {password}) "
        f"and API key {key} (shown once)."
    )


@main.command("simulate")
@click.argument("assistant_id", type=int)
@click.option(
    "--script",
    "script_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML or JSON: {variables, steps: [say | dtmf | silence_s | hangup]}",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def simulate_command(assistant_id: int, script_path: Path, as_json: bool) -> None:
    """Run a simulated call against a stored assistant, with real speech, on the
    providers a real call would get (its keys, else the offline models)."""
    from callwright.domain.evaluations.script import load_script
    from callwright.domain.signing_secrets import signing_secret_for
    from callwright.domain.tools.schemas import CustomTool
    from callwright.domain.tools.service import tools_for_call
    from callwright.runtime.providers_offline import OfflineProviders
    from callwright.runtime.realtime import process_realtime_factory
    from callwright.runtime.registry import process_provider_factory
    from callwright.runtime.simulate import knowledge_retriever, simulate
    from callwright.security.crypto import SecretBox

    settings = _settings()
    try:
        script = load_script(script_path)
    except CallwrightError as exc:
        raise click.ClickException(f"{exc}: {exc.details}") from exc

    async def load(session: AsyncSession) -> tuple[dict[str, Any], list[CustomTool], str, int]:
        box = SecretBox(settings.resolved_secret_key())
        stored = await load_assistant_for_call(session, box, assistant_id)
        call_tools = await tools_for_call(session, box, stored)
        for left in call_tools.left_out:
            click.echo(f"stored tool {left.tool_id} left out: {left.reason}", err=True)
        # The organization's current secret: rotated, or derived until first rotated.
        secret = await signing_secret_for(session, settings, stored.row.organization_id)
        document = stored.settings.model_dump(mode="json")
        return document, call_tools.tools, secret, stored.row.organization_id

    document, tools, signing_secret, organization_id = _in_unit_of_work(settings, load)

    async def run() -> dict[str, Any]:
        offline = OfflineProviders()
        try:
            async with (
                knowledge_retriever(settings, assistant_id) as retrieve,
                process_provider_factory(settings, offline) as providers,
                process_realtime_factory(settings) as realtime,
            ):
                result = await simulate(
                    document,
                    script,
                    offline,
                    assistant_id=assistant_id,
                    organization_id=organization_id,
                    providers=providers,
                    tools=tools,
                    signing_secret=signing_secret,
                    retrieve=retrieve,
                    outbound=OutboundPolicy.from_settings(settings),
                    realtime=realtime,
                )
        finally:
            await offline.aclose()
        return result.to_json()

    result = asyncio.run(run())
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    for row in result["transcript"]:
        flag = " (interrupted)" if row["interrupted"] else ""
        click.echo(f"{row['role']:>9}: {row['text']}{flag}")
    click.echo(f"end reason: {result['end_reason']}")
    columns = [
        "turn",
        "endpointing_ms",
        "stt_final_ms",
        "llm_first_token_ms",
        "tts_first_audio_ms",
        "first_frame_out_ms",
        "voice_to_voice_ms",
    ]
    click.echo("  ".join(f"{c:>18}" for c in columns))
    for turn in result["turns"]:
        click.echo("  ".join(f"{turn[c]!s:>18}" for c in columns))


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the latest schema."""
    settings = _settings()

    async def run() -> None:
        engine = create_engine(settings.resolved_database_url)
        try:
            await upgrade_to_head(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    click.echo("database is up to date")


@main.group()
def admin() -> None:
    """Organizations, users, API keys, and the fleet's nodes."""


@admin.command("create-org")
@click.option("--name", required=True)
def create_org(name: str) -> None:
    """Create an organization and print its id."""

    settings = _settings()

    async def work(session: AsyncSession) -> int:
        limit = settings.organization_max_concurrent_calls
        return (
            await AccountsService(session).create_organization(name, max_concurrent_calls=limit)
        ).id

    click.echo(_in_unit_of_work(settings, work))


@admin.command("create-user")
@click.option("--org", "organization_id", required=True, type=int)
@click.option("--email", required=True)
@click.option("--password", required=True)
def create_user(organization_id: int, email: str, password: str) -> None:
    """Create a user in an organization and print its id."""

    async def work(session: AsyncSession) -> int:
        return (await AccountsService(session).create_user(organization_id, email, password)).id

    click.echo(_in_unit_of_work(_settings(), work))


@admin.command("create-api-key")
@click.option("--org", "organization_id", required=True, type=int)
@click.option("--email", required=True)
@click.option("--name", default="cli", show_default=True)
@click.option("--scope", type=click.Choice(["organization", "user"]), default="organization")
def create_api_key(organization_id: int, email: str, name: str, scope: str) -> None:
    """Create an API key for a user and print it (it is shown this once)."""

    async def work(session: AsyncSession) -> str:
        accounts = AccountsService(session)
        user = await accounts.get_user_by_email(email)
        if user is None or user.organization_id != organization_id:
            raise click.ClickException(f"no user {email} in organization {organization_id}")
        _, key = await accounts.issue_api_key(
            organization_id, user.id, name, "user" if scope == "user" else "organization"
        )
        return key

    click.echo(_in_unit_of_work(_settings(), work))


@admin.command("nodes")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per node.")
def nodes(as_json: bool) -> None:
    """The fleet: each server process (node), whether it takes new calls or is
    draining (out of the fleet's capacity, its calls still up), and the calls it holds."""
    settings = _settings()

    async def work(session: AsyncSession) -> list[NodeState]:
        live_since = utcnow() - timedelta(seconds=settings.node_expiry_s)
        return await fleet(session, live_since=live_since)

    found = _in_unit_of_work(settings, work)
    for node in found:
        if as_json:
            row = {
                "id": node.id,
                "hostname": node.hostname,
                "pid": node.pid,
                "state": node.state,
                "calls": node.calls,
                "started_at": node.started_at.isoformat(),
                "heartbeat_at": node.heartbeat_at.isoformat(),
                "draining_since": node.draining_since and node.draining_since.isoformat(),
            }
            click.echo(json.dumps(row))
        else:
            since = f" since {node.draining_since:%H:%M:%S}" if node.draining_since else ""
            click.echo(f"{node.id}  {node.state}{since}  {node.calls} call(s)")
    if not as_json:
        taking = [n for n in found if n.state == "taking-calls"]
        draining = [n for n in found if n.state == "draining"]
        click.echo(
            f"{len(taking)} node(s) taking calls; {len(draining)} draining with "
            f"{sum(n.calls for n in draining)} call(s) still up"
        )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
