import { useEffect, useState } from "preact/hooks";

import { api } from "../api.js";
import { callsPerDay, percentile } from "../latency.js";
import { Link } from "../router.jsx";

const DAYS = 14;
// The overview reads the latest calls of the window, at most this many (the API's
// largest page): enough for a glance, stated on the page when reached.
const MOST = 1000;

/** Calls in progress, calls per day, and the voice-to-voice latency of recent turns. */
export function Overview() {
  const [live, setLive] = useState(null);
  const [recent, setRecent] = useState(null);
  const [error, setError] = useState(null);

  useEffect(() => {
    const since = new Date();
    since.setDate(since.getDate() - (DAYS - 1));
    since.setHours(0, 0, 0, 0);
    Promise.all([
      api.get("/api/v1/calls", { status: "in-progress", limit: MOST }),
      api.get("/api/v1/calls", { created_after: since.toISOString(), limit: MOST }),
    ])
      .then(([inProgress, calls]) => {
        setLive(inProgress);
        setRecent(calls);
      })
      .catch((caught) => setError(caught.message));
  }, []);

  if (error) {
    return (
      <p class="alert" role="alert">
        {error}
      </p>
    );
  }
  if (!recent) return <p class="loading">Loading…</p>;
  const perDay = callsPerDay(recent, DAYS);
  const busiest = Math.max(...perDay.map((entry) => entry.count), 1);
  const latencies = recent.flatMap((call) => call.turns.map((turn) => turn.voice_to_voice_ms));
  const p50 = percentile(latencies, 50);
  const p95 = percentile(latencies, 95);
  const shown = (value) => (value === null ? "—" : `${Math.round(value)} ms`);

  return (
    <section class="overview">
      <h1>Overview</h1>
      <div class="tiles">
        <div class="tile">
          <span class="figure" id="calls-in-progress">
            {live.length}
          </span>
          <Link href="/app/calls?status=in-progress">calls in progress</Link>
        </div>
        <div class="tile">
          <span class="figure" id="calls-recent">
            {recent.length}
          </span>
          <span>calls in {DAYS} days</span>
        </div>
        <div class="tile">
          <span class="figure" id="latency-p50">
            {shown(p50)}
          </span>
          <span>voice to voice, median</span>
        </div>
        <div class="tile">
          <span class="figure" id="latency-p95">
            {shown(p95)}
          </span>
          <span>voice to voice, p95</span>
        </div>
      </div>
      {recent.length >= MOST && <p class="hint">From the latest {MOST} calls of the period.</p>}
      <section class="panel">
        <h2>Calls per day</h2>
        <svg class="per-day" id="calls-per-day" viewBox={`0 0 ${DAYS * 40} 140`} role="img" aria-label="Calls per day">
          {perDay.map((entry, index) => {
            const height = (entry.count / busiest) * 100;
            return (
              <g data-day={entry.day} data-count={entry.count}>
                <rect x={index * 40 + 6} y={110 - height} width="28" height={height} class="stage-llm">
                  <title>
                    {entry.day}: {entry.count}
                  </title>
                </rect>
                <text x={index * 40 + 20} y="128" class="axis" text-anchor="middle">
                  {entry.day.slice(8)}
                </text>
              </g>
            );
          })}
        </svg>
      </section>
    </section>
  );
}
