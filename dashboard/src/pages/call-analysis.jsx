import { useEffect, useState } from "preact/hooks";

import { analysisPending, analysisState, structuredText, verdictText } from "../analysis.js";
import { api } from "../api.js";
import { Link } from "../router.jsx";

const POLL_MS = 1500;

/** The post-call analysis on the call's record (summary, structured data, success
 * evaluation, status and error) and a button that runs it again with the assistant's
 * current plan (POST /api/v1/calls/{id}/analysis), the record polled until it settles. */
export function CallAnalysis({ call, assistant, onChange }) {
  const analysis = call.analysis;
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const pending = analysisPending(analysis);

  useEffect(() => {
    if (!pending) return undefined;
    let live = true;
    const timer = setTimeout(() => {
      api
        .get(`/api/v1/calls/${call.id}`)
        .then((found) => live && onChange(found))
        .catch((caught) => live && setProblem(caught.message));
    }, POLL_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [pending, call]);

  const rerun = async () => {
    setBusy(true);
    setProblem(null);
    try {
      onChange(await api.post(`/api/v1/calls/${call.id}/analysis`));
    } catch (caught) {
      setProblem(caught.message);
    } finally {
      setBusy(false);
    }
  };

  const planless = assistant && !assistant.analysis_plan;
  return (
    <section class="panel" id="call-analysis" data-status={analysis?.status || "none"}>
      <h2>Analysis</h2>
      <p id="analysis-state">
        {analysis && <span class={`badge ${analysis.status === "completed" ? "ok" : analysis.status === "failed" ? "bad" : "off"}`}>{analysis.status}</span>}{" "}
        {analysisState(analysis)}
      </p>
      {analysis?.error && (
        <p class="alert" id="analysis-error">
          {analysis.error}
        </p>
      )}
      {analysis && analysis.status !== "skipped" && (
        <dl class="facts analysis">
          <dt>Summary</dt>
          <dd id="analysis-summary">{analysis.summary || "—"}</dd>
          <dt>Structured data</dt>
          <dd>
            <pre class="code" id="analysis-structured-data">
              {structuredText(analysis.structured_data)}
            </pre>
          </dd>
          <dt>Success evaluation</dt>
          <dd id="analysis-success">{verdictText(analysis.success_evaluation)}</dd>
        </dl>
      )}
      {planless && (
        <p class="hint" id="analysis-no-plan">
          Its assistant has no analysis plan: set one under Webhook, Post-call analysis, in{" "}
          <Link href={`/app/assistants/${assistant.id}#group-webhook`}>the assistant's settings</Link> to analyse its calls.
        </p>
      )}
      {problem && (
        <p class="alert" role="alert" id="analysis-problem">
          {problem}
        </p>
      )}
      {call.status === "ended" && (
        <div class="actions">
          <button type="button" class="secondary" id="rerun-analysis" disabled={busy || pending} onClick={rerun}>
            Re-run analysis
          </button>
        </div>
      )}
    </section>
  );
}
