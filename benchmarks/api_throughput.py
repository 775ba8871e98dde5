"""API throughput and latency: ``GET /api/v1/assistants/{id}`` against the floors of
the same server process, measured in the same run.

    .venv/bin/python benchmarks/api_throughput.py [--seconds 5] [--concurrency 1,8,32]

The server is ``load_server.py`` (the real app on uvicorn + httptools + uvloop, as
``callwright serve`` runs it, with its middleware: per-IP budget, body limit, the HTTP
metrics). Three endpoints, one after the other at each concurrency:

- ``/bench/bare``: a bare ASGI callable mounted on the app (the server, the middleware
  stack, no FastAPI routing, no dependencies): the floor;
- ``/bench/route``: a FastAPI route returning a constant (routing and serialisation);
- ``/api/v1/assistants/{id}``: authentication (API key digest → the process's key cache,
  the database once per key per 5 s), the per-key budget, the assistant read from the
  database, decryption, validation and rendering.

The client is a small keep-alive HTTP/1.1 client on asyncio streams (one connection
per concurrent worker), lighter than httpx so that the server is what is measured; its
own CPU is reported. Throughput is requests per second; latency p50/p95/p99 in ms; the
server's CPU time per request (psutil) is the cost that does not depend on the client.
Writes benchmarks/results/api_throughput.json, .md and .png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import httpx  # noqa: E402
import psutil  # noqa: E402
from load import ServerProcess, server_process  # noqa: E402
from load_databases import database  # noqa: E402
from load_report import percentiles  # noqa: E402

RESULTS = HERE / "results"


async def worker(
    host: str, port: int, request: bytes, deadline: float, latencies: list[float]
) -> int:
    """Send ``request`` over one keep-alive connection until ``deadline``; returns the
    number of answers that were not 200."""
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000)
            errors += status != 200
    finally:
        writer.close()
        await writer.wait_closed()
    return errors


async def measure(
    server: ServerProcess, path: str, headers: dict[str, str], concurrency: int, seconds: float
) -> dict[str, Any]:
    host, port = server.base_url.removeprefix("http://").split(":")
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    # A short warm-up at the same concurrency (connections, caches, the JIT-less paths).
    warm: list[float] = []
    await asyncio.gather(
        *(
            worker(host, int(port), request, time.perf_counter() + 0.5, warm)
            for _ in range(concurrency)
        )
    )
    process, client = server.ps, psutil.Process()
    cpu, client_cpu = sum(process.cpu_times()[:2]), sum(client.cpu_times()[:2])
    latencies: list[float] = []
    started = time.perf_counter()
    errors = await asyncio.gather(
        *(
            worker(host, int(port), request, started + seconds, latencies)
            for _ in range(concurrency)
        )
    )
    wall = time.perf_counter() - started
    server_cpu = sum(process.cpu_times()[:2]) - cpu
    client_cpu = sum(client.cpu_times()[:2]) - client_cpu
    count = len(latencies)
    return {
        "concurrency": concurrency,
        "requests": count,
        "errors": sum(errors),
        "requests_per_s": round(count / wall, 1),
        "latency_ms": percentiles(latencies),
        "server_cpu_us_per_request": round(server_cpu / count * 1e6, 1) if count else None,
        "server_cores": round(server_cpu / wall, 2),
        "client_cores": round(client_cpu / wall, 2),
    }


async def run_database(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"cw-api-{kind}-") as tmp:
        async with (
            database(kind) as database_url,
            server_process(
                ["--vad=energy", f"--loop={args.server_loop}"],
                database_url,
                "http://127.0.0.1:9",
                Path(tmp),
            ) as server,
        ):
            auth = {"Authorization": f"Bearer {server.api_key}"}
            async with httpx.AsyncClient(base_url=server.base_url, headers=auth) as api:
                created = await api.post("/api/v1/assistants", json={"name": "Throughput"})
                created.raise_for_status()
                assistant_id = created.json()["id"]
                check = await api.get(f"/api/v1/assistants/{assistant_id}")
                check.raise_for_status()
            endpoints = {
                "bare ASGI": ("/bench/bare/", {}),
                "FastAPI route": ("/bench/route", {}),
                "GET assistant": (f"/api/v1/assistants/{assistant_id}", auth),
            }
            results: dict[str, list[dict[str, Any]]] = {name: [] for name in endpoints}
            for concurrency in args.concurrency:
                for name, (path, headers) in endpoints.items():
                    result = await measure(server, path, headers, concurrency, args.seconds)
                    results[name].append(result)
                    print(
                        f"[{kind}] {name:>13} c={concurrency:<3} {result['requests_per_s']:>8} "
                        f"req/s, p50/p99 {result['latency_ms'].get('p50')}/"
                        f"{result['latency_ms'].get('p99')} ms, server "
                        f"{result['server_cpu_us_per_request']} µs/req, errors "
                        f"{result['errors']}",
                        flush=True,
                    )
    ratios = []
    for index, concurrency in enumerate(args.concurrency):
        bare, api_ = results["bare ASGI"][index], results["GET assistant"][index]
        ratios.append(
            {
                "concurrency": concurrency,
                "throughput_bare_over_api": round(
                    bare["requests_per_s"] / max(api_["requests_per_s"], 1e-9), 2
                ),
                "p50_api_over_bare": round(
                    api_["latency_ms"]["p50"] / max(bare["latency_ms"]["p50"], 1e-9), 2
                ),
                "server_cpu_api_over_bare": round(
                    api_["server_cpu_us_per_request"] / bare["server_cpu_us_per_request"], 2
                ),
            }
        )
    return {"database": kind, "endpoints": results, "ratios": ratios}


def write(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "api_throughput.json").write_text(json.dumps(report, indent=2))
    lines = [
        "# API throughput",
        "",
        f"Measured {report['measured_at']}; {report['seconds']} s per point; load average "
        f"{report['load_average_before']} before. Command: `{report['command']}`",
        "",
    ]
    for database_ in report["databases"]:
        lines += [
            f"## {database_['database']}",
            "",
            "| endpoint | concurrency | req/s | p50 ms | p95 ms | p99 ms | server µs/req | "
            "server cores | client cores |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, results in database_["endpoints"].items():
            for r in results:
                q = r["latency_ms"]
                lines.append(
                    f"| {name} | {r['concurrency']} | {r['requests_per_s']} | {q.get('p50')} | "
                    f"{q.get('p95')} | {q.get('p99')} | {r['server_cpu_us_per_request']} | "
                    f"{r['server_cores']} | {r['client_cores']} |"
                )
        lines += ["", "Ratios (bare ASGI vs GET assistant):", ""]
        for ratio in database_["ratios"]:
            lines.append(
                f"- concurrency {ratio['concurrency']}: throughput ×"
                f"{ratio['throughput_bare_over_api']}, p50 latency ×{ratio['p50_api_over_bare']}"
                f", server CPU per request ×{ratio['server_cpu_api_over_bare']}"
            )
        lines.append("")
    (out / "api_throughput.md").write_text("\n".join(lines))
    plot(report, out / "api_throughput.png")


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (throughput, latency) = plt.subplots(1, 2, figsize=(11, 4))
    for database_ in report["databases"]:
        for name, results in database_["endpoints"].items():
            label = f"{database_['database']}: {name}"
            xs = [r["concurrency"] for r in results]
            throughput.plot(xs, [r["requests_per_s"] for r in results], marker="o", label=label)
            latency.plot(xs, [r["latency_ms"]["p99"] for r in results], marker="o", label=label)
    for axis, title, unit in (
        (throughput, "Throughput", "requests/s"),
        (latency, "Latency p99", "ms"),
    ):
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("concurrent connections")
        axis.set_ylabel(unit)
        axis.set_xscale("log", base=2)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per endpoint and level")
    parser.add_argument(
        "--concurrency", default="1,8,32", type=lambda s: [int(x) for x in s.split(",")]
    )
    parser.add_argument(
        "--databases", default="sqlite,postgres", type=lambda s: [x.strip() for x in s.split(",")]
    )
    parser.add_argument("--server-loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if any(c < 1 for c in args.concurrency):
        parser.error("--concurrency: each level must be at least 1")
    for database_ in args.databases:
        if database_ not in ("sqlite", "postgres"):
            parser.error(f"--databases: unknown database {database_!r} (sqlite, postgres)")
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    return args


async def run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    report: dict[str, Any] = {
        "measured_at": time.strftime("%Y-%m-%d %H:%M"),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "command": "python benchmarks/api_throughput.py " + " ".join(argv),
        "seconds": args.seconds,
        "databases": [],
    }
    for kind in args.databases:
        try:
            report["databases"].append(await run_database(kind, args))
        except OSError as exc:
            print(f"[{kind}] skipped: {exc}", flush=True)
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return report


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    import uvloop

    report = uvloop.run(run(args, argv))
    write(report, args.out)


if __name__ == "__main__":
    main()
