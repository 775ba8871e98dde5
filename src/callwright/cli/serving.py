"""``callwright serve``: one server process, or N worker processes sharing the port.

The command migrates the database and bootstraps a first run once, in the parent; then
uvicorn serves ``worker_app`` (a factory, so each process builds its own app and is its
own node, with its own node id). With ``--workers`` above 1, uvicorn's supervisor binds
the port once, hands the socket to N spawned processes, restarts a worker that dies,
and on SIGTERM or SIGINT sends SIGTERM to every worker and waits for them: each worker
drains (``runtime.drain``) before it stops.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

__all__ = ["WORKER_APP", "default_workers", "run_server", "worker_app"]

# The import string of the factory uvicorn calls in every server process.
WORKER_APP = "callwright.cli.serving:worker_app"
_HEALTHCHECK_S = 30


def default_workers() -> int:
    """One server process per core."""
    return os.cpu_count() or 1


def worker_app() -> FastAPI:
    """The app of one server process (settings from the environment, as the parent's):
    its logs configured, its heap frozen after start-up, drained on SIGTERM."""
    from callwright.api.app import create_app
    from callwright.observability.logging import configure_logging
    from callwright.settings import Settings

    settings = Settings()
    configure_logging(json=settings.log_format == "json", level=settings.log_level)
    return create_app(settings, freeze_heap_after_startup=True, drain_on_signals=True)


def run_server(host: str, port: int, workers: int) -> None:
    """Serve until stopped (and drained). ``workers`` 1 serves in this process."""
    import uvicorn

    # log_config=None: uvicorn's loggers go through the handlers worker_app configures.
    uvicorn.run(
        WORKER_APP,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_config=None,
        # The drain ends the calls before uvicorn's own shutdown; connections left then
        # (requests in flight) get a few seconds more.
        timeout_graceful_shutdown=5,
        # The supervisor pings each worker (a thread answers) and replaces one silent
        # this long. A spawned worker re-imports the application before it can answer:
        # uvicorn's 5 s killed healthy workers starting on a loaded two-core machine.
        timeout_worker_healthcheck=_HEALTHCHECK_S,
    )
