"""The browser playground: ``GET /playground`` and its static files.

The page itself needs no authentication (it asks for an API key, or uses the dashboard
cookie); everything it does goes through the authenticated API. The files ship inside
the package (``callwright/web/``) and are read once, at import, so serving them never
touches the disk on the event loop.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import RedirectResponse, Response

from callwright.errors import NotFound

__all__ = ["router"]

router = APIRouter(tags=["playground"])

_MEDIA_TYPES = {
    "playground.html": "text/html; charset=utf-8",
    "playground.css": "text/css; charset=utf-8",
    "playground.js": "text/javascript; charset=utf-8",
    "capture-worklet.js": "text/javascript; charset=utf-8",
}
_WEB = files("callwright").joinpath("web")
_FILES = {name: _WEB.joinpath(name).read_bytes() for name in _MEDIA_TYPES}

# Only this origin's scripts, styles and API; WebSockets may live on another host (a
# reverse proxy may hand out wss:// URLs). No framing: the page holds an API key.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        "connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Edits to the files show up on reload; the bodies are small.
    "Cache-Control": "no-cache",
}


def _file(name: str) -> Response:
    return Response(_FILES[name], media_type=_MEDIA_TYPES[name], headers=_HEADERS)


@router.api_route("/playground", methods=["GET", "HEAD"], include_in_schema=False)
async def playground() -> Response:
    return _file("playground.html")


@router.api_route("/playground/", methods=["GET", "HEAD"], include_in_schema=False)
async def playground_slash() -> RedirectResponse:
    # The page's relative asset URLs are resolved against /playground/ here.
    return RedirectResponse("/playground", status_code=308)


@router.api_route("/playground/{name}", methods=["GET", "HEAD"], include_in_schema=False)
async def playground_asset(name: Annotated[str, Path(max_length=64)]) -> Response:
    if name not in _FILES or name == "playground.html":
        raise NotFound(f"no playground file named {name!r}")
    return _file(name)
