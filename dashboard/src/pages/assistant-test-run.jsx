import { useEffect, useState } from "preact/hooks";

import { api } from "../api.js";
import { EXPECTATIONS, isRunActive, progressText, runOutcome, runSegments, slowestTurn, targetText } from "../assistant-tests.js";
import { dateTime } from "../format.js";
import { Link } from "../router.jsx";
import { Outcome } from "./assistant-test-runs.jsx";

const POLL_MS = 1000;
const RESULT_BADGES = { passed: "ok", failed: "bad", error: "bad" };
const ms = (value) => (typeof value === "number" ? `${Math.round(value)} ms` : "—");

/** The run's tests by state: a bar (SVG, coloured by class: the CSP allows no inline style). */
function RunProgress({ progress }) {
  return (
    <div class="campaign-progress" id="run-progress">
      <svg viewBox="0 0 100 6" preserveAspectRatio="none" role="img" aria-label={progressText(progress)}>
        <rect x="0" y="0" width="100" height="6" class="track" />
        {runSegments(progress).map((segment) => (
          <rect x={segment.x} y="0" width={segment.width} height="6" class={`run-${segment.key}`} data-state={segment.key} data-count={segment.count}>
            <title>
              {segment.label}: {segment.count}
            </title>
          </rect>
        ))}
      </svg>
      <p class="sub" id="run-progress-text">
        {progressText(progress)}
      </p>
    </div>
  );
}

function Verdicts({ verdicts }) {
  if (!verdicts.length) return null;
  return (
    <table class="rows verdicts">
      <caption>Expectations</caption>
      <thead>
        <tr>
          <th scope="col">Expectation</th>
          <th scope="col">Target</th>
          <th scope="col">Verdict</th>
          <th scope="col">Why</th>
        </tr>
      </thead>
      <tbody>
        {verdicts.map((verdict) => (
          <tr data-expectation={verdict.expectation} data-passed={String(verdict.passed)}>
            <td>{EXPECTATIONS[verdict.expectation] || verdict.expectation}</td>
            <td>
              <code>{targetText(verdict)}</code>
            </td>
            <td>
              <span class={`badge ${verdict.passed ? "ok" : "bad"}`}>{verdict.passed ? "pass" : "fail"}</span>
            </td>
            <td>{verdict.reason}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Timings({ timings }) {
  if (!timings.length) return null;
  return (
    <table class="rows timings">
      <caption>Timings per turn</caption>
      <thead>
        <tr>
          <th scope="col">Turn</th>
          <th scope="col">Voice-to-voice</th>
          <th scope="col">Endpointing</th>
          <th scope="col">STT final</th>
          <th scope="col">LLM first token</th>
          <th scope="col">TTS first audio</th>
        </tr>
      </thead>
      <tbody>
        {timings.map((turn) => (
          <tr>
            <td>{turn.turn}</td>
            <td>{ms(turn.voice_to_voice_ms)}</td>
            <td>{ms(turn.endpointing_ms)}</td>
            <td>{ms(turn.stt_final_ms)}</td>
            <td>{ms(turn.llm_first_token_ms)}</td>
            <td>{ms(turn.tts_first_audio_ms)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** One test's outcome: its verdicts, transcript, timings, tool calls and recording. */
function Result({ result, position }) {
  const settled = !["pending", "running"].includes(result.status);
  return (
    <section class="panel test-result" data-position={position} data-status={result.status} aria-labelledby={`result-${position}`}>
      <div class="title-line">
        <h2 id={`result-${position}`}>{result.name}</h2>
        <span class={`badge ${RESULT_BADGES[result.status] || "off"}`} data-status={result.status}>
          {result.status}
        </span>
      </div>
      {result.error && (
        <p class="alert" role="alert">
          {result.error}
        </p>
      )}
      {settled && (
        <dl class="facts">
          <dt>End reason</dt>
          <dd>{result.end_reason || "—"}</dd>
          <dt>Duration</dt>
          <dd>{result.duration_seconds == null ? "—" : `${result.duration_seconds.toFixed(1)} s`}</dd>
          <dt>Slowest turn</dt>
          <dd>{ms(slowestTurn(result.timings))}</dd>
          {result.providers.length > 0 && (
            <>
              <dt>Providers</dt>
              <dd>{result.providers.map((choice) => `${choice.kind}: ${choice.chosen}`).join(", ")}</dd>
            </>
          )}
        </dl>
      )}
      <Verdicts verdicts={result.verdicts} />
      {result.transcript.length > 0 && (
        <>
          <h3>Transcript</h3>
          <ol class="transcript">
            {result.transcript.map((line) => (
              <li data-role={line.role}>
                <span class="who">{line.role === "assistant" ? "Assistant" : line.role === "user" ? "Caller" : line.role}</span>
                <span class="at">{line.interrupted ? <span class="badge off">cut off</span> : ""}</span>
                <p>{line.text}</p>
              </li>
            ))}
          </ol>
        </>
      )}
      <Timings timings={result.timings} />
      {result.tool_calls.length > 0 && (
        <>
          <h3>Tool calls</h3>
          <ul class="changes tool-calls">
            {result.tool_calls.map((call) => (
              <li>
                <code>
                  {call.name} {JSON.stringify(call.arguments)}
                </code>
              </li>
            ))}
          </ul>
        </>
      )}
      {result.recording_url && (
        <div class="result-recording">
          <h3>Recording</h3>
          <audio controls preload="none" src={result.recording_url} />
          <p class="hint">
            Left channel: the caller; right: the assistant.{" "}
            <a href={result.recording_url} download={`test-run-${position}.wav`} class="recording-link">
              Download (WAV)
            </a>
          </p>
        </div>
      )}
    </section>
  );
}

/** A test run: its progress (polled until the run is done), then per test its verdicts. */
export function TestRunPage({ id, run: runId }) {
  const base = `/api/v1/assistants/${encodeURIComponent(id)}`;
  const [assistant, setAssistant] = useState(null);
  const [run, setRun] = useState(null);
  const [problem, setProblem] = useState(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    api
      .get(base)
      .then(setAssistant)
      .catch(() => setAssistant(null));
  }, [base]);

  useEffect(() => {
    let live = true;
    api
      .get(`${base}/tests/runs/${encodeURIComponent(runId)}`)
      .then((found) => {
        if (!live) return;
        setRun(found);
        setProblem(null);
      })
      .catch((caught) => live && setProblem(caught.message));
    return () => {
      live = false;
    };
  }, [base, runId, tick]);

  const active = isRunActive(run);
  useEffect(() => {
    if (!active) return undefined;
    const timer = setTimeout(() => setTick((count) => count + 1), POLL_MS);
    return () => clearTimeout(timer);
  }, [active, tick]);

  const overrides = run && Object.keys(run.overrides || {}).length ? JSON.stringify(run.overrides) : null;
  return (
    <section class="test-run-page">
      <p class="crumbs">
        <Link href="/app/assistants">Assistants</Link> / <Link href={`/app/assistants/${id}`}>{assistant?.name || `#${id}`}</Link> /{" "}
        <Link href={`/app/assistants/${id}/tests`}>Tests</Link> /
      </p>
      <div class="title-line">
        <h1>Run #{runId}</h1>
        {run && <Outcome outcome={runOutcome(run)} id="run-outcome" />}
      </div>
      {problem && (
        <p class="alert" role="alert" id="run-problem">
          {problem}
        </p>
      )}
      {!run && !problem && <p class="loading">Loading…</p>}
      {run && (
        <>
          <RunProgress progress={run.progress} />
          <dl class="facts" id="run-facts">
            <dt>Assistant version</dt>
            <dd>
              <Link href={`/app/assistants/${id}/tests?version=${run.assistant_version}`} id="run-version">
                v{run.assistant_version}
              </Link>{" "}
              <span class="sub">(runs of this version)</span>
            </dd>
            <dt>Requested</dt>
            <dd>{dateTime(run.created_at)}</dd>
            <dt>Started</dt>
            <dd>{dateTime(run.started_at)}</dd>
            <dt>Finished</dt>
            <dd>{dateTime(run.finished_at)}</dd>
            {overrides && (
              <>
                <dt>Overrides</dt>
                <dd>
                  <code>{overrides}</code>
                </dd>
              </>
            )}
          </dl>
          {run.error && (
            <p class="alert" role="alert" id="run-error">
              {run.error}
            </p>
          )}
          {(run.results || []).map((result, index) => (
            // Results come in run order; `position` is the API's own when it sends it.
            <Result result={result} position={result.position ?? index + 1} />
          ))}
        </>
      )}
    </section>
  );
}
