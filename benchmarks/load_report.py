"""The load test's figures: a phase's calls and records → percentiles, the report
files (JSON, markdown, PNG)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from load_caller import CallResult
from load_server import SCRIPT

from callwright.observability.eventloop import LagSamples
from callwright.observability.metrics import platform_ms

EXPECTED_ROLES = ["assistant"] + ["user", "assistant"] * len(SCRIPT)


def percentiles(values: list[float], qs: tuple[int, ...] = (50, 95, 99)) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    picked = {
        f"p{q}": ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] for q in qs
    }
    return {k: round(v, 1) for k, v in picked.items()} | {"n": len(ordered)}


def record_problems(record: dict[str, Any], realtime: bool = False) -> list[str]:
    """What makes a call record incomplete (an empty list: complete). A realtime call's
    timing rows have no separate LLM and TTS stages: each needs its first frame out."""
    problems = []
    if record["status"] != "ended":
        problems.append(f"status {record['status']}")
    if record["end_reason"] != "customer-ended-call":
        problems.append(f"end_reason {record['end_reason']} ({record['end_detail']})")
    roles = [m["role"] for m in record["messages"]]
    if roles != EXPECTED_ROLES:
        problems.append(f"messages {roles}")
    users = [m["text"] for m in record["messages"] if m["role"] == "user"]
    if users != [turn.heard for turn in SCRIPT]:
        problems.append(f"user turns {users}")
    interrupted = [i for i, m in enumerate(record["messages"]) if m.get("interrupted")]
    if interrupted != [4]:
        problems.append(f"interrupted messages at {interrupted}")
    rows = [row for row in record["turns"] if row["turn"] > 0]
    complete = (
        (lambda row: row.get("first_frame_out_ms") is not None)
        if realtime
        else (lambda row: platform_ms(row) is not None)
    )
    if len(rows) != len(SCRIPT) or not all(complete(row) for row in rows):
        problems.append(f"timing rows {rows}")
    if not record["recording_url"]:
        problems.append("no recording")
    return problems


def summarise(
    n: int,
    results: list[CallResult],
    records: dict[str, dict[str, Any]],
    realtime: bool,
    idle_cores: float,
    cpu: float,
    client_cpu: float,
    wall: float,
    rss_base: int,
    rss_peak: int,
    server_lag: dict[str, Any],
    client_lag: LagSamples,
    busy_probe: str | None,
) -> dict[str, Any]:
    failures: list[str] = []
    rows: list[dict[str, Any]] = []
    for result in results:
        record = records.get(result.call_sid)
        if not result.ok:
            failures.append(f"{result.call_sid}: {result.error}")
        if record is None:
            failures.append(f"{result.call_sid}: no ended record")
            continue
        problems = record_problems(record, realtime)
        if problems:
            failures.append(f"{result.call_sid}: record incomplete: {'; '.join(problems)}")
        rows.extend(row for row in record["turns"] if row["turn"] > 0)

    def column(key: str) -> list[float]:
        return [float(row[key]) for row in rows if row.get(key) is not None]

    platform = [p for row in rows if (p := platform_ms(row)) is not None]
    sentence_wait = [
        row["first_sentence_ms"] - row["llm_first_token_ms"]
        for row in rows
        if row.get("first_sentence_ms") is not None and row.get("llm_first_token_ms") is not None
    ]
    engine = [p - w for p, w in zip(platform, sentence_wait, strict=False)]
    provider = [
        row["llm_first_token_ms"] + row["tts_first_audio_ms"]
        for row in rows
        if row.get("llm_first_token_ms") is not None and row.get("tts_first_audio_ms") is not None
    ]
    call_minutes = sum(r.seconds for r in results) / 60
    ingest = []
    for result in results:
        record = records.get(result.call_sid)
        if record is None:
            continue
        server_v2v = [row["voice_to_voice_ms"] for row in record["turns"] if row["turn"] > 0]
        for client_ms, server_ms, hangover in zip(
            result.v2v_ms, server_v2v, result.hangover_ms, strict=False
        ):
            if server_ms is not None:
                ingest.append(client_ms - server_ms - hangover)
    client_lag_ms = [v * 1000 for v in client_lag.values]
    return {
        "calls": n,
        "failed_or_lost": len(failures),
        "failures": failures[:20],
        "turns": len(rows),
        "platform_ms": percentiles(platform),
        "platform_sentence_wait_ms": percentiles(sentence_wait),
        "platform_engine_ms": percentiles(engine),
        "provider_ms": percentiles(provider),
        "endpointing_ms": percentiles(column("endpointing_ms")),
        "server_voice_to_voice_ms": percentiles(column("voice_to_voice_ms")),
        "client_voice_to_voice_ms": percentiles([v for r in results for v in r.v2v_ms]),
        # What the timing row cannot see: frames in, first frame out, across the socket
        # and the server's intake (the VAD's hangover past the acoustic end removed).
        "transport_ms": percentiles(ingest),
        "barge_in_clear_after_speech_ms": percentiles(
            [r.clear_after_speech_ms for r in results if r.clear_after_speech_ms is not None]
        ),
        "outbound_jitter_ms": percentiles([j for r in results for j in r.jitter_ms]),
        # The same, from the server's send times: its pacing without the way to the caller.
        "server_send_jitter_ms": server_lag.pop("send_jitter_ms", {}),
        "underruns_within_sentence": sum(r.underruns for r in results),
        "gaps_between_sentences": sum(r.sentence_gaps for r in results),
        "server_loop_lag_ms": server_lag,
        "client_loop_lag_ms": percentiles(client_lag_ms),
        "client_late_frames": sum(r.late_frames for r in results),
        "server_cpu_s": round(cpu, 2),
        "server_cores_used": round(cpu / wall, 3),
        "server_cpu_s_per_call_minute": round(cpu / call_minutes, 3) if call_minutes else None,
        # Without what the idle server burns anyway (timers, pollers), spread over calls.
        "server_cpu_s_per_call_minute_net": round(
            max(0.0, cpu - idle_cores * wall) / call_minutes, 3
        )
        if call_minutes
        else None,
        "client_cpu_s_per_call_minute": round(client_cpu / call_minutes, 3)
        if call_minutes
        else None,
        "server_rss_base_mb": round(rss_base / 2**20, 1),
        "server_rss_peak_mb": round(rss_peak / 2**20, 1),
        "memory_per_call_mb": round((rss_peak - rss_base) / 2**20 / n, 2),
        "mean_call_seconds": round(statistics.fmean(r.seconds for r in results), 1),
        "phase_seconds": round(wall, 1),
        "capacity_probe": busy_probe,
    }


GOOD_N_RULE = {
    False: "zero failures and platform p95 < 50 ms",
    # A realtime turn has no platform stages of its own to time (the model hears,
    # thinks and speaks): the server's event loop stands for the platform.
    True: "zero failures and server loop lag p99 < 50 ms",
}


def largest_good_n(phases: list[dict[str, Any]], realtime: bool = False) -> int | None:
    """The largest N such that it and every smaller N had no failure and platform p95
    under 50 ms (realtime: the server's event-loop lag p99 under 50 ms)."""
    best = None
    for phase in sorted(phases, key=lambda p: p["calls"]):
        key = "server_loop_lag_ms" if realtime else "platform_ms"
        p95 = phase[key].get("p99" if realtime else "p95")
        if phase["failed_or_lost"] or p95 is None or p95 >= 50:
            break
        best = phase["calls"]
    return best


def stalls(phase: dict[str, Any]) -> str:
    """Where the event loop's stalls (lags over 50 ms) went: its own thread's CPU, or
    not scheduled at all (other processes on the machine)."""
    causes = phase["server_loop_lag_ms"].get("stall_time_by_cause_ms", {})
    own = causes.get("loop_thread_cpu_ms", 0) / 1000
    return f"{own:.1f} / {causes.get('not_running_ms', 0) / 1000:.1f}"


def gc_max(phase: dict[str, Any]) -> str:
    gen2 = phase["server_loop_lag_ms"].get("gc", {}).get("gen2", {})
    if not gen2.get("count"):
        return "none"
    return f"{gen2['max_ms']:.0f} ({gen2.get('max_cpu_ms', 0):.0f} CPU) ×{gen2['count']}"


def load_average(phase: dict[str, Any]) -> str:
    """The machine's 1-minute load average at the phase's start → end (shared cores)."""
    before, after = phase.get("load_average_1min", ("–", "–"))
    return f"{before} → {after}"


def write_results(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    name = report["name"]
    (out / f"{name}.json").write_text(json.dumps(report, indent=2))
    lines = [
        "# Load: concurrent simulated Twilio calls",
        "",
        f"Measured {report['measured_at']} on {report['machine']}; load average before the "
        f"run {report['load_average_before']}. Command: `{report['command']}`",
        "",
        "Providers: " + ", ".join(f"{k} {v}" for k, v in report["providers"].items()),
        "",
    ]
    workers = int(report["providers"].get("server workers", 1))
    processes = (
        "one server process, so at most one core of Python"
        if workers == 1
        else f"{workers} server processes on one port; CPU and memory summed over them, "
        "loop lag the worst one's"
    )
    for database in report["databases"]:
        lines += [
            f"## {database['database']}",
            "",
            f"Largest N with {GOOD_N_RULE[report.get('realtime', False)]}: "
            f"**{database['largest_good_n']}** ({processes}).",
            "",
            "| N | failed | platform p50/p95/p99 ms | engine p95 | sentence wait p95 | "
            "provider p50 | server v2v p50/p95 | caller v2v p50/p95/p99 | "
            "jitter p99: caller / server sends | "
            "underruns | loop lag p99 | stalls: own CPU / not scheduled s | gen2 GC max ms | "
            "CPU s/call-min: server / caller | cores | MB/call | load avg (1 min) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for p in database["phases"]:

            def q(key: str, *names: str, phase: dict[str, Any] = p) -> str:
                return "/".join(str(phase[key].get(name, "–")) for name in names)

            lines.append(
                f"| {p['calls']} | {p['failed_or_lost']} | {q('platform_ms', 'p50', 'p95', 'p99')}"
                f" | {q('platform_engine_ms', 'p95')} | {q('platform_sentence_wait_ms', 'p95')}"
                f" | {q('provider_ms', 'p50')} | {q('server_voice_to_voice_ms', 'p50', 'p95')}"
                f" | {q('client_voice_to_voice_ms', 'p50', 'p95', 'p99')}"
                f" | {q('outbound_jitter_ms', 'p99')} / {q('server_send_jitter_ms', 'p99')}"
                f" | {p['underruns_within_sentence']}"
                f" | {q('server_loop_lag_ms', 'p99')} | {stalls(p)} | {gc_max(p)}"
                f" | {p['server_cpu_s_per_call_minute']} / {p['client_cpu_s_per_call_minute']}"
                f" | {p['server_cores_used']} | {p['memory_per_call_mb']}"
                f" | {load_average(p)} |"
            )
        lines.append("")
    (out / f"{name}.md").write_text("\n".join(lines))
    plot(report, out / f"{name}.png")


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(11, 8))
    (latency, client), (jitter, cpu) = axes
    for database in report["databases"]:
        name = database["database"]
        ns = [p["calls"] for p in database["phases"]]

        def series(
            key: str, q: str, phases: list[dict[str, Any]] = database["phases"]
        ) -> list[Any]:
            return [p[key].get(q) for p in phases]

        for q, style in (("p50", ":"), ("p95", "-"), ("p99", "--")):
            latency.plot(ns, series("platform_ms", q), style, marker="o", label=f"{name} {q}")
            client.plot(
                ns, series("client_voice_to_voice_ms", q), style, marker="o", label=f"{name} {q}"
            )
        jitter.plot(
            ns,
            series("outbound_jitter_ms", "p99"),
            "-",
            marker="o",
            label=f"{name} outbound jitter p99",
        )
        jitter.plot(
            ns,
            series("server_send_jitter_ms", "p99"),
            "-.",
            marker="^",
            label=f"{name} server send jitter p99",
        )
        jitter.plot(
            ns,
            series("server_loop_lag_ms", "p99"),
            "--",
            marker="s",
            label=f"{name} server loop lag p99",
        )
        cpu.plot(
            ns,
            [p["server_cpu_s_per_call_minute"] for p in database["phases"]],
            "-",
            marker="o",
            label=f"{name} CPU s per call-minute",
        )
    latency.axhline(50, color="red", linewidth=0.8)
    jitter.axhline(20, color="red", linewidth=0.8)
    for axis, title, unit in (
        (latency, "Platform share of a turn", "ms"),
        (client, "Caller's voice-to-voice (endpointing ~320 ms, providers 300 ms)", "ms"),
        (jitter, "Outbound jitter and event-loop lag", "ms"),
        (cpu, "Server CPU per call-minute", "CPU-seconds"),
    ):
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("concurrent calls")
        axis.set_ylabel(unit)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
