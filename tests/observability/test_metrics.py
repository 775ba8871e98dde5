"""The metrics the runtime reports: each function changes the exposition as it should."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from callwright.observability import metrics as module
from callwright.observability.metrics import STAGES, Metrics, default_metrics, platform_ms

# A user turn as runtime/recorder.py ``timing_row`` writes it.
ROW: dict[str, Any] = {
    "turn": 2,
    "llm_provider": "scripted-llm",
    "endpointing_ms": 221.5,
    "stt_final_ms": 140.0,
    "llm_first_token_ms": 200.4,
    "first_sentence_ms": 221.0,
    "tts_first_audio_ms": 100.3,
    "first_frame_out_ms": 331.9,
    "playback_confirmed_ms": 2400.0,
    "voice_to_voice_ms": 553.4,
    "prompt_tokens": 12,
    "completion_tokens": 9,
}


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_call_lifecycle_counts_and_the_active_gauge() -> None:
    metrics = Metrics()
    metrics.call_started("inboundPhoneCall")
    metrics.call_started("webCall")
    assert sample(metrics, "callwright_calls_active") == 2
    metrics.call_ended("inboundPhoneCall", "customer-ended-call")
    assert sample(metrics, "callwright_calls_active") == 1
    assert sample(metrics, "callwright_calls_started_total", type="inboundPhoneCall") == 1
    assert sample(metrics, "callwright_calls_started_total", type="webCall") == 1
    assert (
        sample(
            metrics,
            "callwright_calls_ended_total",
            type="inboundPhoneCall",
            end_reason="customer-ended-call",
        )
        == 1
    )
    metrics.call_refused("inboundPhoneCall")
    assert (
        sample(metrics, "callwright_calls_refused_total", type="inboundPhoneCall", reason="busy")
        == 1
    )


def test_a_turn_observes_every_stage_in_seconds_and_the_platform_share() -> None:
    metrics = Metrics()
    metrics.turn_recorded(ROW)
    assert sample(metrics, "callwright_turns_total", kind="user") == 1
    for key, stage in STAGES.items():
        assert sample(metrics, "callwright_turn_stage_seconds_count", stage=stage) == 1, key
        assert sample(metrics, "callwright_turn_stage_seconds_sum", stage=stage) == pytest.approx(
            ROW[key] / 1000
        )
    # 331.9 - 200.4 - 100.3 ms
    assert sample(metrics, "callwright_turn_stage_seconds_sum", stage="platform") == (
        pytest.approx(0.0312)
    )
    # 31.2 ms falls in the 50 ms bucket, not the 25 ms one.
    assert (
        sample(metrics, "callwright_turn_stage_seconds_bucket", stage="platform", le="0.025") == 0
    )
    assert sample(metrics, "callwright_turn_stage_seconds_bucket", stage="platform", le="0.05") == 1


def test_early_llm_requests_are_counted_used_or_wasted() -> None:
    metrics = Metrics()
    metrics.turn_recorded({**ROW, "preempted": True, "preemptions_wasted": 2})
    metrics.turn_recorded({**ROW, "preempted": False, "preemptions_wasted": 0})
    assert sample(metrics, "callwright_preemptive_llm_requests_total", outcome="used") == 1
    assert sample(metrics, "callwright_preemptive_llm_requests_total", outcome="wasted") == 2


def test_a_greeting_counts_as_an_assistant_turn_without_a_platform_share() -> None:
    metrics = Metrics()
    greeting = dict.fromkeys(STAGES) | {"turn": 0, "tts_first_audio_ms": 90.0}
    metrics.turn_recorded(greeting)
    assert sample(metrics, "callwright_turns_total", kind="assistant") == 1
    assert sample(metrics, "callwright_turns_total", kind="user") == 0
    assert sample(metrics, "callwright_turn_stage_seconds_count", stage="tts_first_audio") == 1
    assert sample(metrics, "callwright_turn_stage_seconds_count", stage="first_frame_out") == 0
    assert sample(metrics, "callwright_turn_stage_seconds_count", stage="platform") == 0


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, 31.2),
        ({"llm_first_token_ms": None}, None),
        ({"tts_first_audio_ms": None}, None),
        ({"first_frame_out_ms": None}, None),
        # A filler went out before the model's first token: no meaningful share.
        ({"llm_first_token_ms": 1500.0}, None),
        ({"first_frame_out_ms": True}, None),
        ({"first_frame_out_ms": 300}, None),
    ],
)
def test_platform_share(changes: dict[str, Any], expected: float | None) -> None:
    assert platform_ms(ROW | changes) == expected


def test_platform_share_of_zero_survives_rounding() -> None:
    # Each stage is rounded to 0.1 ms on its own.
    assert platform_ms(ROW | {"first_frame_out_ms": 300.7}) == 0.0
    assert platform_ms(ROW | {"first_frame_out_ms": 300.6}) == 0.0
    assert platform_ms(ROW | {"first_frame_out_ms": 299.0}) is None


def test_provider_errors_fallbacks_and_webhooks() -> None:
    metrics = Metrics()
    metrics.provider_error("llm", "openai")
    metrics.provider_error("llm", "openai")
    metrics.llm_fallback("openai", "anthropic")
    metrics.webhook_delivery("delivered", 0.12)
    metrics.webhook_delivery("retry", 10.0)
    metrics.webhook_delivery("failed")
    assert sample(metrics, "callwright_provider_errors_total", kind="llm", provider="openai") == 2
    assert (
        sample(
            metrics,
            "callwright_llm_fallbacks_total",
            from_provider="openai",
            to_provider="anthropic",
        )
        == 1
    )
    for outcome in ("delivered", "retry", "failed"):
        assert sample(metrics, "callwright_webhook_deliveries_total", outcome=outcome) == 1
    assert sample(metrics, "callwright_webhook_delivery_seconds_count") == 2
    assert sample(metrics, "callwright_webhook_delivery_seconds_sum") == pytest.approx(10.12)


def test_http_methods_outside_the_known_set_share_one_label() -> None:
    metrics = Metrics()
    metrics.http_request("BREW", "/pot", 418, 0.001)
    assert (
        sample(
            metrics, "callwright_http_requests_total", method="other", route="/pot", status="418"
        )
        == 1
    )


def test_the_exposition_is_prometheus_text_with_every_family() -> None:
    metrics = Metrics()
    metrics.call_started("webCall")
    metrics.turn_recorded(ROW)
    families = {f.name: f for f in text_string_to_metric_families(metrics.exposition().decode())}
    for name in (
        "callwright_calls_active",
        "callwright_calls_started",
        "callwright_calls_ended",
        "callwright_turns",
        "callwright_turn_stage_seconds",
        "callwright_provider_errors",
        "callwright_llm_fallbacks",
        "callwright_webhook_deliveries",
        "callwright_http_requests",
        "callwright_http_request_duration_seconds",
        "callwright_event_loop_lag_seconds",
        "process_resident_memory_bytes",
    ):
        assert name in families, name
    assert families["callwright_turn_stage_seconds"].type == "histogram"
    assert families["callwright_calls_active"].samples[0].value == 1


def test_registries_are_independent() -> None:
    first, second = Metrics(), Metrics()
    first.call_started("webCall")
    assert sample(first, "callwright_calls_active") == 1
    assert sample(second, "callwright_calls_active") == 0


def test_module_functions_write_to_the_process_metrics() -> None:
    metrics = default_metrics()
    assert default_metrics() is metrics
    before = sample(metrics, "callwright_calls_started_total", type="outboundPhoneCall")
    active = sample(metrics, "callwright_calls_active")
    module.call_started("outboundPhoneCall")
    assert sample(metrics, "callwright_calls_active") == active + 1
    module.call_ended("outboundPhoneCall", "voicemail")
    assert sample(metrics, "callwright_calls_active") == active
    assert sample(metrics, "callwright_calls_started_total", type="outboundPhoneCall") == before + 1
    turns = sample(metrics, "callwright_turns_total", kind="user")
    module.turn_recorded(ROW)
    assert sample(metrics, "callwright_turns_total", kind="user") == turns + 1
    errors = sample(metrics, "callwright_provider_errors_total", kind="tts", provider="x")
    module.provider_error("tts", "x")
    assert sample(metrics, "callwright_provider_errors_total", kind="tts", provider="x") == (
        errors + 1
    )
    fallbacks = sample(
        metrics, "callwright_llm_fallbacks_total", from_provider="a", to_provider="b"
    )
    module.llm_fallback("a", "b")
    assert (
        sample(metrics, "callwright_llm_fallbacks_total", from_provider="a", to_provider="b")
        == fallbacks + 1
    )
    delivered = sample(metrics, "callwright_webhook_deliveries_total", outcome="delivered")
    module.webhook_delivery("delivered")
    assert sample(metrics, "callwright_webhook_deliveries_total", outcome="delivered") == (
        delivered + 1
    )
    refused = sample(metrics, "callwright_calls_refused_total", type="webCall", reason="busy")
    module.call_refused("webCall")
    assert sample(metrics, "callwright_calls_refused_total", type="webCall", reason="busy") == (
        refused + 1
    )
