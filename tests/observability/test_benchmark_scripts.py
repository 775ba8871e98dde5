"""The benchmark scripts import and parse their options (no load is run here); the
greeting benchmark runs once, with tiny settings."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from callwright.runtime.heap import CALL_SERVER_GC_THRESHOLDS
from tests.support.optional import require_installed

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


SCRIPTS = (
    "load",
    "load_caller",
    "load_databases",
    "load_report",
    "load_server",
    "api_throughput",
    "offline_providers",
    "greeting",
    "transport_floor",
)


@pytest.fixture
def bench() -> Iterator[ModuleType]:
    """The benchmarks folder on the path; its generically named modules forgotten
    afterwards."""
    saved = list(sys.path)  # the scripts put themselves and src/ on the path too
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("load")
    finally:
        sys.path[:] = saved
        for name in SCRIPTS:
            sys.modules.pop(name, None)


def script(name: str) -> ModuleType:
    return importlib.import_module(name)


@pytest.mark.usefixtures("bench")
def test_load_defaults_and_refusals(capsys: pytest.CaptureFixture[str]) -> None:
    load = script("load")
    args = load.parse_args([])
    assert args.calls == [1, 10, 20, 40, 60, 80]
    assert args.databases == ["sqlite", "postgres"]
    assert args.max_calls == 80  # one more call than the largest N is refused
    assert (args.stt_final_ms, args.llm_first_token_ms, args.tts_first_audio_ms) == (100, 200, 100)
    flags = load.server_flags(load.parse_args(["--calls", "2,3"]))
    assert "--max-calls=3" in flags
    assert "--gc-freeze" in flags  # as `callwright serve` freezes its heap
    assert "--vad=silero" in flags
    assert "--gc-freeze" not in load.server_flags(load.parse_args(["--no-server-gc-freeze"]))
    # Pinned: the server under taskset, the callers' own process by affinity.
    pinned = load.parse_args(["--server-cpus", "0", "--client-cpus", "1"])
    assert (pinned.server_cpus, pinned.client_cpus) == ("0", {1})
    assert not any("thresholds" in flag for flag in flags)  # the call server's own
    cpython = load.server_flags(load.parse_args(["--server-gc-thresholds", "700,10,10"]))
    assert "--gc-thresholds=700,10,10" in cpython
    unbatched = load.server_flags(load.parse_args(["--vad", "silero-unbatched"]))
    assert "--vad=silero-unbatched" in unbatched
    for bad in (["--databases", "mysql"], ["--calls", "0"], ["--calls", "x"]):
        with pytest.raises(SystemExit) as exit_:
            load.parse_args(bad)
        assert exit_.value.code == 2
    assert "mysql" in capsys.readouterr().err


@pytest.mark.usefixtures("bench")
def test_load_server_options(tmp_path: Path) -> None:
    server = script("load_server")
    data, ready = str(tmp_path / "data"), str(tmp_path / "ready.json")
    args = server.parse_args(["--port", "1", "--data-dir", data, "--ready-file", ready])
    assert (args.vad, args.loop, args.llm_token_ms) == ("silero", "uvloop", 20)
    assert args.gc_thresholds == CALL_SERVER_GC_THRESHOLDS  # what `callwright serve` sets
    other = ["--gc-thresholds", "700,10,10"]
    assert server.parse_args(
        [*other, "--port", "1", "--data-dir", data, "--ready-file", ready]
    ).gc_thresholds == (700, 10, 10)
    with pytest.raises(SystemExit):
        server.parse_args(["--data-dir", data])  # --port and --ready-file are required
    # The scripted conversation is what the caller plays: one barge-in, every turn heard.
    assert sum(turn.barge_in_after_s is not None for turn in server.SCRIPT) == 1
    assert all(
        (BENCHMARKS.parent / "tests/fixtures/audio" / t.clip).exists() for t in server.SCRIPT
    )


@pytest.mark.usefixtures("bench")
async def test_load_server_hears_a_phone_call_at_the_lines_rate() -> None:
    """As the registry builds a Deepgram call: the VAD and the transcriber at 8 kHz on
    a phone line (no resampling on the way in), 16 kHz otherwise."""
    server = script("load_server")
    build = server.provider_factory(server.Latencies(), "energy", 5.0)
    for line_rate, heard_at in ((8000, 8000), (16000, 16000), (48000, 16000)):
        providers, _ = await build({}, 1, line_rate)
        assert (providers.stt.sample_rate, providers.vad.sample_rate) == (heard_at, heard_at)


@pytest.mark.usefixtures("bench")
def test_report_helpers() -> None:
    report = script("load_report")
    assert report.percentiles([]) == {}
    assert report.percentiles([float(v) for v in range(1, 101)]) == {
        "p50": 51.0,
        "p95": 95.0,
        "p99": 99.0,
        "n": 100,
    }
    phases = [
        {"calls": 1, "failed_or_lost": 0, "platform_ms": {"p95": 20.0}},
        {"calls": 5, "failed_or_lost": 0, "platform_ms": {"p95": 40.0}},
        {"calls": 10, "failed_or_lost": 1, "platform_ms": {"p95": 30.0}},
        {"calls": 20, "failed_or_lost": 0, "platform_ms": {"p95": 45.0}},
    ]
    # The first N that fails either test ends the count: 20 does not rescue 10.
    assert report.largest_good_n(phases) == 5


@pytest.mark.usefixtures("bench")
def test_api_throughput_and_offline_providers_options() -> None:
    api = script("api_throughput")
    args = api.parse_args([])
    assert args.concurrency == [1, 8, 32]
    with pytest.raises(SystemExit):
        api.parse_args(["--concurrency", "0"])
    offline = script("offline_providers")
    assert offline.parse_args([]).only == ["whisper", "piper", "espeak", "smollm2", "minilm"]
    assert offline.parse_args(["--only", "espeak"]).only == ["espeak"]
    with pytest.raises(SystemExit):
        offline.parse_args(["--only", "gpt5"])


@pytest.mark.usefixtures("bench")
def test_greeting_runs_on_the_offline_voice(tmp_path: Path) -> None:
    """The whole script, one call of each kind: a server process on the offline models,
    calls over the Twilio protocol, the voice that spoke checked in each record."""
    require_installed("piper", "faster_whisper", "llama_cpp", why="the greeting benchmark's server")
    greeting = script("greeting")
    for bad in (["--cached-calls", "0"], ["--voice", "rachel"]):
        with pytest.raises(SystemExit):
            greeting.parse_args(bad)
    out = tmp_path / "greeting.json"
    tiny = ["--cached-calls", "1", "--changed-calls", "1", "--variable-calls", "1"]
    result = greeting.main([*tiny, "--json", "--out", str(out)])
    assert result is not None
    assert result["problems"] == []  # each call spoken by Piper; cached audio the cold call's
    assert json.loads(out.read_text())["voice"] == "piper"
    figures = result["start_to_first_media_ms"]
    assert list(figures) == [
        "static, first call",
        "static, cached",
        "changed, first call",
        "changed, cached",
        "with a variable",
    ]
    assert all(phase["n"] == 1 for phase in figures.values())
    audio = result["greeting_audio_s"]
    # The variable message renders to the static text: the same words, synthesised anew.
    assert audio["static, cached"] == audio["static, first call"] > 1.0


@pytest.mark.usefixtures("bench")
def test_transport_floor_runs_both_stages(tmp_path: Path) -> None:
    """Two raw-socket callers against each stage's server process for a second; the
    upgrade is checked (a refused one raises), the figures are written."""
    require_installed("onnxruntime", why="the vad stage runs Silero")
    floor = script("transport_floor")
    with pytest.raises(SystemExit):
        floor.parse_args(["--stages", "receive,decode"])
    out = tmp_path / "floor.json"
    args = floor.parse_args(["--calls", "2", "--seconds", "1", "--out", str(out)])
    asyncio.run(floor.main(args))
    result = json.loads(out.read_text())
    assert list(result["stages"]) == ["receive", "vad"]
    for rows in result["stages"].values():
        assert rows[0]["calls"] == 2
        assert rows[0]["server_cpu_s_per_call_minute"] > 0
    assert result["model"][0]["batch"] == 1
    assert result["model"][0]["us_per_frame"] > 0
