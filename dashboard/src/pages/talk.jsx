import { useEffect, useRef, useState } from "preact/hooks";

import { api } from "../api.js";
import { BrowserCall } from "../browser-call.js";
import { Link } from "../router.jsx";

const STATE_LABELS = {
  idle: "Ready",
  starting: "Opening the microphone…",
  connecting: "Connecting…",
  "in-call": "In call: speak now",
  ending: "Hanging up…",
  ended: "Call ended",
};

/** The live transcript: the caller's partial line replaced as they speak, each final
 * kept; the assistant's lines as they are said. */
function appendLine(lines, message) {
  const text = String(message.text || "");
  const last = lines[lines.length - 1];
  if (message.role === "user") {
    if (!message.final && !text) return lines;
    const line = { role: "user", text, final: Boolean(message.final) };
    return last && last.role === "user" && !last.final ? [...lines.slice(0, -1), line] : [...lines, line];
  }
  if (message.role === "assistant") {
    return [...lines, { role: "assistant", text, final: true, interrupted: Boolean(message.interrupted) }];
  }
  return lines;
}

/** Talk to an assistant from the browser: microphone in, its voice out, the live
 * transcript, an end button and the call's record once it is over. */
export function Talk({ id }) {
  const [assistant, setAssistant] = useState(null);
  const [state, setState] = useState("idle");
  const [endReason, setEndReason] = useState(null);
  const [callId, setCallId] = useState(null);
  const [lines, setLines] = useState([]);
  const [level, setLevel] = useState(0);
  const [error, setError] = useState(null);
  const call = useRef(null);
  const list = useRef(null);

  useEffect(() => {
    api
      .get(`/api/v1/assistants/${encodeURIComponent(id)}`)
      .then(setAssistant)
      .catch((caught) => setError(caught.message));
    // Leaving the page hangs up.
    return () => call.current?.stop();
  }, [id]);

  useEffect(() => {
    list.current?.lastElementChild?.scrollIntoView({ block: "nearest" });
  }, [lines]);

  const start = async () => {
    if (call.current && !call.current.ended) return;
    setError(null);
    setLines([]);
    setEndReason(null);
    setCallId(null);
    const current = new BrowserCall({
      state: (name, detail) => {
        setState(name);
        if (current.callId) setCallId(current.callId);
        if (name === "ended") setEndReason(detail || null);
      },
      transcript: (message) => setLines((previous) => appendLine(previous, message)),
      level: setLevel,
      error: setError,
    });
    call.current = current;
    try {
      await current.start(Number(id));
      if (current.callId) setCallId(current.callId);
    } catch (caught) {
      setError(`Could not start the call: ${caught.message}`);
      current.socket?.close();
      current.finish("failed to start");
    }
  };

  const live = ["starting", "connecting", "in-call", "ending"].includes(state);
  return (
    <section class="talk" id="talk-panel" data-state={state} data-call-id={callId || undefined}>
      <p class="crumbs">
        <Link href="/app/assistants">Assistants</Link> /{" "}
        <Link href={`/app/assistants/${id}`}>{assistant ? assistant.name : `#${id}`}</Link> /
      </p>
      <h1>Talk to {assistant ? assistant.name : "the assistant"}</h1>
      <p class="hint">
        Your microphone goes to the assistant and its voice plays here. Wear headphones: the assistant hears what your
        speakers play.
      </p>
      <div class="call-controls">
        <button type="button" id="start-call" disabled={live || !assistant} onClick={start}>
          {state === "ended" ? "Call again" : "Start call"}
        </button>
        <button type="button" class="danger" id="end-call" disabled={!live || state === "ending"} onClick={() => call.current?.stop()}>
          End call
        </button>
        <span id="call-state" role="status">
          {STATE_LABELS[state]}
          {state === "ended" && endReason ? `: ${endReason}` : ""}
        </span>
        <meter id="mic-level" min="0" max="1" value={level} aria-label="Microphone level" />
      </div>
      {error && (
        <p class="alert" role="alert" id="talk-error">
          {error}
        </p>
      )}
      {state === "ended" && callId && (
        <p class="notice" id="call-record">
          The call is over. <Link href={`/app/calls/${callId}`}>Open the record of call #{callId}</Link> (transcript,
          recording and timings; written a moment after the call ends).
        </p>
      )}
      <section class="panel">
        <h2>Live transcript</h2>
        {lines.length === 0 ? (
          <p class="empty">{live ? "Listening…" : "Start a call and say something."}</p>
        ) : (
          <ol class="transcript" id="live-transcript" ref={list} aria-live="polite">
            {lines.map((line) => (
              <li data-role={line.role} data-final={String(line.final)} data-interrupted={line.interrupted ? "true" : undefined}>
                <span class="who">{line.role === "user" ? "You" : "Assistant"}</span>
                <p>
                  <span class="text">{line.text}</span>
                  {line.interrupted && <span class="badge off">interrupted</span>}
                </p>
              </li>
            ))}
          </ol>
        )}
      </section>
    </section>
  );
}
