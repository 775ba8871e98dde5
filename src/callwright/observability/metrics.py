"""callwright's Prometheus metrics, in a registry of their own.

A ``Metrics`` owns a ``CollectorRegistry`` (never prometheus_client's global one, so two
apps in one process — the test suite — do not clash). The process has one default
instance, and the module-level functions (``call_started``, ``turn_recorded``, …) write
to it: that is what the runtime calls. Tests make their own ``Metrics()``.

Series (all prefixed ``callwright_``)::

    calls_active                        gauge      calls running in this process
    calls_started_total{type}           counter    inboundPhoneCall | outboundPhoneCall | webCall
    calls_ended_total{type,end_reason}  counter    end_reason: the EndReason values
    calls_refused_total{type,reason}    counter    refused at capacity (busy / 503)
    turns_total{kind}                   counter    user (a reply to the caller) | assistant
    turn_stage_seconds{stage}           histogram  one stage per timing-row key (STAGES)
                                                   and "platform"
    provider_errors_total{kind,provider}           counter  kind: llm | stt | tts | vad | …
    llm_fallbacks_total{from_provider,to_provider} counter
    preemptive_llm_requests_total{outcome}        counter  used | wasted (turn_detection: smart)
    webhook_deliveries_total{outcome}   counter    delivered | retry | failed
    webhook_delivery_seconds            histogram  one attempt, answer or timeout
    http_requests_total{method,route,status}      counter    route: the route *template*
    http_request_duration_seconds{method,route}   histogram
    websocket_connections_active{route} gauge
    websocket_connections_total{route}  counter
    event_loop_lag_seconds              histogram  see ``observability.eventloop``
    process_* (CPU seconds, resident memory, open fds), python_gc_*

The platform's share of a turn (``stage="platform"``) is defined by ``platform_ms``.
With several server processes each has its own registry: scrape each process.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, TypeGuard

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    ProcessCollector,
    generate_latest,
)

__all__ = [
    "CONTENT_TYPE_LATEST",
    "STAGES",
    "Metrics",
    "WebhookOutcome",
    "call_ended",
    "call_refused",
    "call_started",
    "default_metrics",
    "llm_fallback",
    "platform_ms",
    "provider_error",
    "turn_recorded",
    "webhook_delivery",
]

WebhookOutcome = Literal["delivered", "retry", "failed"]

# Timing-row keys (runtime/recorder.py ``timing_row``) → the ``stage`` label.
STAGES: Final[Mapping[str, str]] = {
    "endpointing_ms": "endpointing",
    "stt_final_ms": "stt_final",
    "llm_first_token_ms": "llm_first_token",
    "first_sentence_ms": "first_sentence",
    "tts_first_audio_ms": "tts_first_audio",
    "first_frame_out_ms": "first_frame_out",
    "playback_confirmed_ms": "playback_confirmed",
    "voice_to_voice_ms": "voice_to_voice",
}
# 1 ms resolution where the platform's share lives, seconds where providers live.
# fmt: off
_LATENCY_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5,
    0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0
)
_HTTP_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0
)
_LAG_BUCKETS: Final = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
# fmt: on
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


_ROUNDING_MS: Final = 0.5
_PLATFORM_KEYS: Final = ("first_frame_out_ms", "llm_first_token_ms", "tts_first_audio_ms")


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def platform_ms(row: Mapping[str, Any]) -> float | None:
    """The platform's share of a turn, in ms, from one timing row.

    ``first_frame_out_ms − llm_first_token_ms − tts_first_audio_ms``: everything
    between the end-of-turn decision and the first audio frame sent that is not spent
    waiting for the LLM's first token or the TTS's first audio. It includes building
    the request and retrieval, the tokens after the first that complete the first
    sentence (the platform chooses to wait for a sentence), sentence chunking,
    resampling, encoding, the transport write and event-loop scheduling. The
    endpointing wait before the decision is a setting, not overhead, so it is not in
    it (``endpointing_ms`` is its own stage).

    None when a stage did not happen (a greeting has no LLM) or when the result is
    negative (a filler word was sent before the LLM's first token).
    """
    values: list[float] = []
    for key in _PLATFORM_KEYS:
        value = row.get(key)
        if not _is_number(value):
            return None
        values.append(float(value))
    out, llm, tts = values
    share = out - llm - tts
    if share < -_ROUNDING_MS:
        return None
    # Each stage is rounded to 0.1 ms on its own: a share of zero can come out as -0.1.
    return round(max(share, 0.0), 1)


class Metrics:
    """callwright's metrics, registered in ``registry`` (a new one by default).

    Every method is a few dictionary look-ups and additions: cheap enough for the
    runtime to call once per call, per turn or per request, never per audio frame.
    """

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = True):
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        if process:
            ProcessCollector(registry=r)
            GCCollector(registry=r)

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(name, doc, labels, namespace="callwright", registry=r)

        def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(name, doc, labels, namespace="callwright", registry=r)

        def histogram(
            name: str, doc: str, buckets: tuple[float, ...], labels: tuple[str, ...] = ()
        ) -> Histogram:
            return Histogram(name, doc, labels, buckets=buckets, namespace="callwright", registry=r)

        self.calls_active = gauge("calls_active", "Calls running in this process.")
        self.calls_started = counter("calls_started", "Calls whose session started.", ("type",))
        self.calls_ended = counter(
            "calls_ended", "Calls that ended, by why.", ("type", "end_reason")
        )
        self.calls_refused = counter(
            "calls_refused", "Calls refused before they started (capacity).", ("type", "reason")
        )
        self.turns = counter(
            "turns", "Turns answered (user) or spoken unprompted (assistant).", ("kind",)
        )
        self.turn_stage = histogram(
            "turn_stage_seconds",
            "Per-turn latency by stage (the call record's timing row; platform = "
            "first_frame_out - llm_first_token - tts_first_audio).",
            _LATENCY_BUCKETS,
            ("stage",),
        )
        self.provider_errors = counter(
            "provider_errors", "Provider failures.", ("kind", "provider")
        )
        self.llm_fallbacks = counter(
            "llm_fallbacks",
            "Turns moved on to the next LLM provider.",
            ("from_provider", "to_provider"),
        )
        self.preemptive_requests = counter(
            "preemptive_llm_requests",
            "LLM requests sent before the caller's turn was taken: used, or wasted (the "
            "caller went on).",
            ("outcome",),
        )
        self.webhook_deliveries = counter(
            "webhook_deliveries", "Webhook delivery attempts by outcome.", ("outcome",)
        )
        self.webhook_duration = histogram(
            "webhook_delivery_seconds", "One webhook delivery attempt.", _HTTP_BUCKETS
        )
        self.http_requests = counter(
            "http_requests", "HTTP requests answered.", ("method", "route", "status")
        )
        # No status label here: it would multiply the bucket series by every status.
        self.http_duration = histogram(
            "http_request_duration_seconds",
            "HTTP request duration, to the last byte.",
            _HTTP_BUCKETS,
            ("method", "route"),
        )
        self.websockets_active = gauge(
            "websocket_connections_active", "Open WebSocket connections.", ("route",)
        )
        self.websockets_total = counter(
            "websocket_connections", "WebSocket connections opened.", ("route",)
        )
        self.event_loop_lag = histogram(
            "event_loop_lag_seconds",
            "How late the event loop ran a timer that was due.",
            _LAG_BUCKETS,
        )

    # -- calls ------------------------------------------------------------------------

    def call_started(self, call_type: str) -> None:
        """A call's session started; pair with exactly one ``call_ended``."""
        self.calls_started.labels(call_type).inc()
        self.calls_active.inc()

    def call_ended(self, call_type: str, end_reason: str) -> None:
        """A started call ended (call it in the runtime's ``finally``)."""
        self.calls_ended.labels(call_type, end_reason).inc()
        self.calls_active.dec()

    def call_refused(self, call_type: str, reason: str = "busy") -> None:
        self.calls_refused.labels(call_type, reason).inc()

    def turn_recorded(self, row: Mapping[str, Any]) -> None:
        """One timing row (``runtime.recorder.timing_row``): a turn and its stages."""
        self.turns.labels("user" if row.get("turn") else "assistant").inc()
        for key, stage in STAGES.items():
            value = row.get(key)
            if _is_number(value) and value >= 0:
                self.turn_stage.labels(stage).observe(value / 1000)
        share = platform_ms(row)
        if share is not None:
            self.turn_stage.labels("platform").observe(share / 1000)
        if row.get("preempted"):
            self.preemptive_requests.labels("used").inc()
        wasted = row.get("preemptions_wasted")
        if _is_number(wasted) and wasted > 0:
            self.preemptive_requests.labels("wasted").inc(wasted)

    # -- providers and webhooks -------------------------------------------------------

    def provider_error(self, kind: str, provider: str) -> None:
        self.provider_errors.labels(kind, provider).inc()

    def llm_fallback(self, from_: str, to: str) -> None:
        self.llm_fallbacks.labels(from_, to).inc()

    def webhook_delivery(self, outcome: WebhookOutcome, duration_s: float | None = None) -> None:
        """One attempt: ``delivered`` (2xx), ``retry`` (failed, will be retried) or
        ``failed`` (failed, and that was the last attempt)."""
        self.webhook_deliveries.labels(outcome).inc()
        if duration_s is not None:
            self.webhook_duration.observe(duration_s)

    # -- HTTP -------------------------------------------------------------------------

    def http_request(self, method: str, route: str, status: int, duration_s: float) -> None:
        method = method if method in _METHODS else "other"
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_duration.labels(method, route).observe(duration_s)

    def websocket_opened(self, route: str) -> None:
        self.websockets_total.labels(route).inc()
        self.websockets_active.labels(route).inc()

    def websocket_closed(self, route: str) -> None:
        self.websockets_active.labels(route).dec()

    # -- exposition -------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format (``CONTENT_TYPE_LATEST``)."""
        return generate_latest(self.registry)


_default: Metrics | None = None


def default_metrics() -> Metrics:
    """This process's metrics (created on first use)."""
    global _default
    if _default is None:
        _default = Metrics()
    return _default


def call_started(call_type: str) -> None:
    default_metrics().call_started(call_type)


def call_ended(call_type: str, end_reason: str) -> None:
    default_metrics().call_ended(call_type, end_reason)


def call_refused(call_type: str, reason: str = "busy") -> None:
    default_metrics().call_refused(call_type, reason)


def turn_recorded(row: Mapping[str, Any]) -> None:
    default_metrics().turn_recorded(row)


def provider_error(kind: str, provider: str) -> None:
    default_metrics().provider_error(kind, provider)


def llm_fallback(from_: str, to: str) -> None:
    default_metrics().llm_fallback(from_, to)


def webhook_delivery(outcome: WebhookOutcome, duration_s: float | None = None) -> None:
    default_metrics().webhook_delivery(outcome, duration_s)
