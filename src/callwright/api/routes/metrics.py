"""``GET /metrics``: this process's metrics in Prometheus' text format.

Not in the OpenAPI document, and open by default, as Prometheus scrapers expect:
firewall it, or give it a token (``metrics_router(token=…)``; proposed setting
``CALLWRIGHT_METRICS_TOKEN``), which scrapers then send as
``Authorization: Bearer <token>`` (Prometheus' ``authorization`` scrape option).
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response

from callwright.api.routing import CallwrightRoute
from callwright.errors import Unauthorized
from callwright.observability.metrics import CONTENT_TYPE_LATEST, Metrics, default_metrics

__all__ = ["METRICS_PATH", "metrics_router", "router"]

METRICS_PATH = "/metrics"


def metrics_router(*, token: str | None = None, metrics: Metrics | None = None) -> APIRouter:
    """A router serving ``metrics`` (this process's by default); with ``token``, only
    to requests bearing it."""
    router = APIRouter(tags=["metrics"], route_class=CallwrightRoute)
    expected = f"Bearer {token}".encode() if token else None

    @router.get(METRICS_PATH, operation_id="metrics", include_in_schema=False)
    async def scrape(request: Request) -> Response:
        if expected is not None:
            presented = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(presented, expected):
                raise Unauthorized("the metrics endpoint needs its bearer token")
        source = metrics or default_metrics()
        return Response(source.exposition(), media_type=CONTENT_TYPE_LATEST)

    return router


router = metrics_router()
