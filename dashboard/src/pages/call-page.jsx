import { useEffect, useState } from "preact/hooks";

import { api } from "../api.js";
import { dateTime, duration } from "../format.js";
import { STAGES as STACKED, stackTurn } from "../latency.js";
import { Link } from "../router.jsx";
import { CallAnalysis } from "./call-analysis.jsx";
import { KnowledgeUsed, ToolCalls, Usage, WebhookDeliveries } from "./call-details.jsx";
import { RecordingAndTranscript } from "./call-recording.jsx";

// Per-turn stages as the call record names them (milliseconds).
const STAGES = [
  ["endpointing_ms", "Endpointing"],
  ["stt_final_ms", "STT final"],
  ["llm_first_token_ms", "LLM first token"],
  ["first_sentence_ms", "First sentence"],
  ["tts_first_audio_ms", "TTS first audio"],
  ["voice_to_voice_ms", "Voice to voice"],
];

/** One stacked bar per turn, the stages in order, scaled to the slowest turn. */
function LatencyChart({ turns }) {
  const stacked = turns.map(stackTurn);
  const longest = Math.max(...stacked.map((turn) => turn.total), 1);
  const width = 640;
  const row = 26;
  const label = 56;
  return (
    <figure class="latency-chart">
      <svg
        id="latency-chart"
        viewBox={`0 0 ${width + label + 70} ${stacked.length * row + 4}`}
        role="img"
        aria-label="Latency of each turn by stage"
      >
        {stacked.map((turn, index) => {
          let x = label;
          return (
            <g data-turn={index + 1}>
              <text x="0" y={index * row + 18} class="axis">
                Turn {index + 1}
              </text>
              {STACKED.map((stage) => {
                const span = (turn[stage.id] / longest) * width;
                const rect = (
                  <rect x={x} y={index * row + 4} width={span} height={row - 8} class={`stage-${stage.id}`} data-stage={stage.id} data-ms={Math.round(turn[stage.id])}>
                    <title>
                      {stage.label}: {Math.round(turn[stage.id])} ms
                    </title>
                  </rect>
                );
                x += span;
                return rect;
              })}
              <text x={x + 6} y={index * row + 18} class="axis">
                {Math.round(turn.total)} ms
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption class="legend">
        {STACKED.map((stage) => (
          <span>
            <i class={`swatch stage-${stage.id}`} aria-hidden="true" /> {stage.label}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

function Turns({ turns }) {
  if (!turns.length) return <p class="empty">No turns measured.</p>;
  return (
    <>
    <LatencyChart turns={turns} />
    <table class="rows" id="turns">
      <thead>
        <tr>
          <th scope="col">Turn</th>
          {STAGES.map(([, label]) => (
            <th scope="col">{label}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {turns.map((turn, index) => (
          <tr>
            <td>{index + 1}</td>
            {STAGES.map(([name]) => (
              <td>{turn[name] === null || turn[name] === undefined ? "—" : `${Math.round(turn[name])} ms`}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
    </>
  );
}

/** One call's record: facts, recording, transcript, turn timings, tools, usage. */
export function CallPage({ id }) {
  const [call, setCall] = useState(null);
  const [assistant, setAssistant] = useState(null);
  const [error, setError] = useState(null);

  useEffect(() => {
    api
      .get(`/api/v1/calls/${encodeURIComponent(id)}`)
      .then(async (found) => {
        setCall(found);
        if (found.assistant_id) {
          setAssistant(await api.get(`/api/v1/assistants/${found.assistant_id}`).catch(() => null));
        }
      })
      .catch((caught) => setError(caught.message));
  }, [id]);

  if (error) {
    return (
      <p class="alert" role="alert">
        {error}
      </p>
    );
  }
  if (!call) return <p class="loading">Loading…</p>;
  return (
    <section class="call-page">
      <p class="crumbs">
        <Link href="/app/calls">Calls</Link> /
      </p>
      <h1>Call #{call.id}</h1>
      <dl class="facts" id="call-facts">
        <dt>Assistant</dt>
        <dd>
          {call.assistant_id ? (
            <Link href={`/app/assistants/${call.assistant_id}`}>{assistant?.name || `#${call.assistant_id}`}</Link>
          ) : (
            "—"
          )}
        </dd>
        <dt>Direction</dt>
        <dd>{call.direction}</dd>
        <dt>Status</dt>
        <dd id="call-status">{call.status}</dd>
        <dt>Started</dt>
        <dd>{dateTime(call.started_at)}</dd>
        <dt>Duration</dt>
        <dd>{duration(call.duration_seconds)}</dd>
        <dt>Ended because</dt>
        <dd id="call-end-reason">
          {call.end_reason || "—"}
          {call.end_detail && call.end_detail !== call.end_reason && <span class="sub">{call.end_detail}</span>}
        </dd>
        {call.customer_number && (
          <>
            <dt>Caller</dt>
            <dd>{call.customer_number}</dd>
          </>
        )}
      </dl>
      <CallAnalysis call={call} assistant={assistant} onChange={setCall} />
      <RecordingAndTranscript call={call} />
      <section class="panel">
        <h2>Turn latency</h2>
        <Turns turns={call.turns} />
      </section>
      <ToolCalls calls={call.tool_calls} />
      <KnowledgeUsed knowledge={call.knowledge} />
      <Usage call={call} />
      <WebhookDeliveries callId={call.id} />
    </section>
  );
}
