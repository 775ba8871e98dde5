"""The dashboard: its page at ``/`` and under each of its sections, and its assets.

The dashboard is a client of the public API and nothing more; this module only serves
the files ``dashboard/build.mjs`` writes into ``callwright/web/dashboard/`` (built by
``./dev``, never committed). They are read once, when the app is created, so serving
them never touches the disk on the event loop. Paths under the dashboard's sections
(``/assistants/12``) answer with its page, so a reload or a shared link opens the right
view; every other unknown path keeps the API's JSON 404.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse, Response

from callwright.errors import NotFound

__all__ = ["DEFAULT_BUILD_DIRECTORY", "DashboardBuild", "dashboard_router"]

DEFAULT_BUILD_DIRECTORY: Traversable = files("callwright").joinpath("web", "dashboard")

_ASSET_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_SECTION_NAME = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}

# Only this origin's scripts, styles, API and media (recordings); call sockets may be
# handed out on another host by a reverse proxy. No framing: the page acts for a
# signed-in user.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        "connect-src 'self' ws: wss:; img-src 'self' data: blob:; media-src 'self' blob:; "
        "worker-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_PAGE_HEADERS = {**_SECURITY_HEADERS, "Cache-Control": "no-cache"}
# Asset names carry their content's hash: a new build is a new name.
_ASSET_HEADERS = {**_SECURITY_HEADERS, "Cache-Control": "public, max-age=31536000, immutable"}

_NOT_BUILT = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>callwright</title></head>
<body><h1>The dashboard is not built</h1>
<p>Run <code>./dev serve</code> (it builds the dashboard when its sources change), or
<code>npm ci &amp;&amp; npm run build</code> in the <code>dashboard/</code> folder.
The API is up: see <a href="/docs">/docs</a>.</p></body></html>
"""


@dataclass(frozen=True)
class DashboardBuild:
    """One build of the dashboard, in memory: its page, hashed assets and sections."""

    index: bytes
    assets: Mapping[str, bytes]
    sections: tuple[str, ...]
    sources_sha256: str

    @classmethod
    def load(cls, directory: Traversable = DEFAULT_BUILD_DIRECTORY) -> DashboardBuild | None:
        """The build in ``directory``, or None where there is none (not built yet)."""
        manifest_file = directory.joinpath("manifest.json")
        if not manifest_file.is_file():
            return None
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        sections = tuple(manifest["sections"])
        for section in sections:
            if not _SECTION_NAME.match(section):
                raise ValueError(f"dashboard manifest: bad section name {section!r}")
        assets: dict[str, bytes] = {}
        for name in manifest["assets"]:
            if not _ASSET_NAME.match(name) or name.startswith("."):
                raise ValueError(f"dashboard manifest: bad asset name {name!r}")
            assets[name] = directory.joinpath("assets", name).read_bytes()
        return cls(
            index=directory.joinpath("index.html").read_bytes(),
            assets=assets,
            sections=sections,
            sources_sha256=str(manifest["sources_sha256"]),
        )


def _media_type(name: str) -> str:
    for suffix, media_type in _MEDIA_TYPES.items():
        if name.endswith(suffix):
            return media_type
    return "application/octet-stream"


def dashboard_router(build: DashboardBuild | None, taken: Iterable[str]) -> APIRouter:
    """The dashboard's routes. ``taken`` are the first path segments the app's other
    routes use (``api``, ``auth``, ``playground``…): a section may not shadow them."""
    router = APIRouter(include_in_schema=False)

    if build is None:

        @router.api_route("/", methods=["GET", "HEAD"])
        async def not_built() -> Response:
            return HTMLResponse(_NOT_BUILT, status_code=503, headers=_PAGE_HEADERS)

        return router

    names = [*build.sections, "assets"]
    clashes = sorted({name for name in names if name in taken or names.count(name) > 1})
    if clashes:
        raise ValueError(f"dashboard sections {clashes} shadow the app's own routes")

    async def page() -> Response:
        return HTMLResponse(build.index, headers=_PAGE_HEADERS)

    router.add_api_route("/", page, methods=["GET", "HEAD"])
    for section in build.sections:
        router.add_api_route(f"/{section}", page, methods=["GET", "HEAD"])
        router.add_api_route(f"/{section}/{{rest:path}}", page, methods=["GET", "HEAD"])

    @router.api_route("/assets/{name}", methods=["GET", "HEAD"])
    async def asset(name: Annotated[str, Path(max_length=128)]) -> Response:
        body = build.assets.get(name)
        if body is None:
            raise NotFound(f"no dashboard asset named {name!r}")
        return Response(body, media_type=_media_type(name), headers=_ASSET_HEADERS)

    return router
