import { useEffect, useState } from "preact/hooks";

import { api } from "../api.js";
import { dateTime } from "../format.js";

const number = (value) => (typeof value === "number" ? value.toLocaleString() : "—");

/** What the call consumed, by provider; cost figures where the record carries them. */
export function Usage({ call }) {
  const usage = call.usage || {};
  const rows = [];
  if (usage.llm) {
    rows.push(["LLM", usage.llm.provider, `${number(usage.llm.prompt_tokens)} prompt + ${number(usage.llm.completion_tokens)} completion tokens`]);
  }
  if (usage.stt) rows.push(["Transcriber", usage.stt.provider, `${number(usage.stt.seconds)} s of audio`]);
  if (usage.tts) rows.push(["Voice", usage.tts.provider, `${number(usage.tts.characters)} characters`]);
  const costs = Object.entries(usage.cost || call.cost || {}).filter(([, value]) => typeof value === "number");
  return (
    <section class="panel" id="call-usage">
      <h2>Usage and providers</h2>
      {rows.length > 0 ? (
        <table class="rows">
          <thead>
            <tr>
              <th scope="col">Kind</th>
              <th scope="col">Provider</th>
              <th scope="col">Used</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([kind, provider, used]) => (
              <tr data-kind={kind}>
                <td>{kind}</td>
                <td>{provider || "—"}</td>
                <td>{used}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="empty">No usage recorded.</p>
      )}
      {costs.length > 0 && (
        <dl class="facts" id="call-cost">
          {costs.map(([name, value]) => (
            <>
              <dt>{name}</dt>
              <dd>{value.toFixed(4)}</dd>
            </>
          ))}
        </dl>
      )}
      {call.providers.length > 0 && (
        <>
          <h3>Providers chosen</h3>
          <ul class="providers" id="call-providers">
            {call.providers.map((choice) => (
              <li>
                <strong>{choice.kind}</strong>: {choice.chosen}
                {choice.requested && choice.requested !== choice.chosen && <> (asked for {choice.requested})</>}
                {choice.reason && <span class="sub">{choice.reason}</span>}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

/** The passages the knowledge retriever gave the model, turn by turn. */
export function KnowledgeUsed({ knowledge }) {
  if (!knowledge.length) return null;
  return (
    <section class="panel" id="call-knowledge">
      <h2>Knowledge passages used</h2>
      {knowledge.map((used) => (
        <details class="retrieval">
          <summary>
            At {Number(used.seconds_from_start ?? used.at ?? 0).toFixed(1)} s: “{used.query}” — {used.passages.length}{" "}
            {used.passages.length === 1 ? "passage" : "passages"} in {number(used.retrieval_ms)} ms
          </summary>
          <ol class="passages">
            {used.passages.map((passage) => (
              <li>
                <strong>{passage.source}</strong> <span class="sub">score {Number(passage.score).toFixed(3)} · {passage.tokens} tokens</span>
                <p>{passage.text}</p>
              </li>
            ))}
          </ol>
        </details>
      ))}
    </section>
  );
}

const STATUS_BADGES = { delivered: "ok", pending: "off", failed: "bad" };

/** The call's webhook events (the delivery log filtered by call) with their status. */
export function WebhookDeliveries({ callId }) {
  const [events, setEvents] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api
      .get("/api/v1/webhook-events", { call_id: callId, limit: 100 })
      .then(setEvents)
      .catch((caught) => setError(caught.message));
  }, [callId]);
  return (
    <section class="panel" id="webhook-deliveries">
      <h2>Webhook deliveries</h2>
      {error && (
        <p class="alert" role="alert">
          {error}
        </p>
      )}
      {events === null && !error && <p class="loading">Loading…</p>}
      {events && events.length === 0 && <p class="empty">No webhook events: the assistant has no server URL.</p>}
      {events && events.length > 0 && (
        <table class="rows">
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">Created</th>
              <th scope="col">Delivered</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {events.map((event) => (
              <tr data-event-type={event.event_type} data-status={event.status}>
                <td>
                  {event.event_type}
                  <span class="sub">{event.url}</span>
                </td>
                <td>
                  <span class={`badge ${STATUS_BADGES[event.status] || "off"}`}>{event.status}</span>
                </td>
                <td>{event.attempts}</td>
                <td>{dateTime(event.created_at)}</td>
                <td>{dateTime(event.delivered_at)}</td>
                <td>{event.last_error || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

const asText = (value) => (typeof value === "string" ? value : JSON.stringify(value, null, 2));

/** The tools the model called: when, with which arguments, and what came back. */
export function ToolCalls({ calls }) {
  if (!calls.length) return null;
  return (
    <section class="panel" id="tool-calls">
      <h2>Tool calls</h2>
      <table class="rows">
        <thead>
          <tr>
            <th scope="col">At</th>
            <th scope="col">Tool</th>
            <th scope="col">Arguments</th>
            <th scope="col">Result</th>
          </tr>
        </thead>
        <tbody>
          {calls.map((call) => (
            <tr data-tool={call.name}>
              <td>{Number(call.seconds_from_start ?? 0).toFixed(1)} s</td>
              <td>
                <code>{call.name}</code>
              </td>
              <td>
                <pre class="code">{asText(call.arguments ?? {})}</pre>
              </td>
              <td>{call.result === null || call.result === undefined ? <span class="sub">no answer</span> : <pre class="code">{asText(call.result)}</pre>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
