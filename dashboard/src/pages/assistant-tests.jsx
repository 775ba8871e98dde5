import { useEffect, useState } from "preact/hooks";

import { ApiError, api } from "../api.js";
import { callerText, expectationTexts, jsonObject, overrideLines } from "../assistant-tests.js";
import { TestForm } from "./assistant-test-form.jsx";
import { TestRuns } from "./assistant-test-runs.jsx";
import { Link, navigate } from "../router.jsx";

/** An assistant's tests (simulated calls with expectations): list, create, edit, delete,
 * run all or the ones ticked; the runs so far below, by version. */
export function AssistantTests({ id }) {
  const base = `/api/v1/assistants/${encodeURIComponent(id)}`;
  const [assistant, setAssistant] = useState(null);
  const [current, setCurrent] = useState(null);
  const [tests, setTests] = useState(null);
  const [editing, setEditing] = useState(null); // null, "new" or a test
  const [selected, setSelected] = useState([]);
  const [confirming, setConfirming] = useState(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState(null);
  const [problem, setProblem] = useState(null);
  const [refresh, setRefresh] = useState(0);
  const [overrides, setOverrides] = useState("");
  const [overrideProblems, setOverrideProblems] = useState([]);

  useEffect(() => {
    api
      .get(base)
      .then(setAssistant)
      .catch((caught) => setProblem(caught.message));
    // The newest version is the one a run would test.
    api
      .get(`${base}/versions`, { limit: 1 })
      .then((found) => setCurrent(found[0]?.version ?? null))
      .catch((caught) => setProblem(caught.message));
  }, [base]);

  useEffect(() => {
    let live = true;
    api
      .get(`${base}/tests`)
      .then((found) => {
        if (!live) return;
        setTests(found);
        setSelected((ticked) => ticked.filter((testId) => found.some((test) => test.id === testId)));
      })
      .catch((caught) => live && setProblem(caught.message));
    return () => {
      live = false;
    };
  }, [base, refresh]);

  const saved = (test) => {
    setNotice(editing === "new" ? `Test “${test.name}” created.` : `Test “${test.name}” saved.`);
    setEditing(null);
    setRefresh((count) => count + 1);
  };

  const remove = async (test) => {
    setBusy(true);
    setProblem(null);
    try {
      await api.delete(`${base}/tests/${test.id}`);
      setConfirming(null);
      setNotice(`Test “${test.name}” deleted; runs keep their copy of it.`);
      setRefresh((count) => count + 1);
    } catch (caught) {
      setProblem(caught.message);
    } finally {
      setBusy(false);
    }
  };

  const run = async (testIds) => {
    setProblem(null);
    const parsed = jsonObject(overrides);
    setOverrideProblems(parsed.problem ? [parsed.problem] : []);
    if (parsed.problem) return;
    const body = testIds ? { test_ids: testIds } : {};
    if (Object.keys(parsed.value).length) body.overrides = parsed.value;
    setBusy(true);
    try {
      const started = await api.post(`${base}/tests/run`, body);
      navigate(`/app/assistants/${id}/tests/runs/${started.id}`);
    } catch (caught) {
      setProblem(caught.message);
      setOverrideProblems(caught instanceof ApiError && body.overrides ? overrideLines(caught.fieldErrors()) : []);
      setBusy(false);
    }
  };

  const tick = (testId) => (event) =>
    setSelected((ticked) => (event.currentTarget.checked ? [...ticked, testId] : ticked.filter((other) => other !== testId)));

  return (
    <section class="list-page tests-page">
      <p class="crumbs">
        <Link href="/app/assistants">Assistants</Link> / <Link href={`/app/assistants/${id}`}>{assistant?.name || `#${id}`}</Link> /
      </p>
      <div class="page-head">
        <h1>Tests</h1>
        <div class="actions">
          <button type="button" id="run-selected" class="secondary" disabled={busy || selected.length === 0} onClick={() => run(selected)}>
            Run selected ({selected.length})
          </button>
          <button type="button" id="run-all" disabled={busy || !tests?.length} onClick={() => run(null)}>
            Run all tests
          </button>
          <button type="button" id="new-test" class="secondary" disabled={editing !== null} onClick={() => setEditing("new")}>
            New test
          </button>
        </div>
      </div>
      <p class="hint">
        Each test is a simulated call on the assistant's providers, from a scripted caller or a model playing one, judged against its expectations. A run
        tests the assistant's current version{current ? ` (v${current})` : ""}.
      </p>
      {notice && (
        <p class="notice" role="status" id="tests-notice">
          {notice}
        </p>
      )}
      {problem && (
        <p class="alert" role="alert" id="tests-error">
          {problem}
        </p>
      )}
      <details class="run-overrides" open={overrides !== "" || overrideProblems.length > 0}>
        <summary>Run with other settings</summary>
        <div class="field">
          <label for="run-overrides">Overrides for the run (JSON object)</label>
          <textarea
            id="run-overrides"
            rows={3}
            placeholder='{"llm_provider": "openai", "llm_settings": {"temperature": 0.2}}'
            value={overrides}
            onInput={(event) => setOverrides(event.currentTarget.value)}
            aria-invalid={overrideProblems.length ? "true" : undefined}
          />
          <p class="help">Merged over the assistant's settings for this run only, like a call's assistant overrides: other providers, models, voices.</p>
          {overrideProblems.length > 0 && (
            <ul class="field-error" id="run-overrides-error">
              {overrideProblems.map((line) => (
                <li>{line}</li>
              ))}
            </ul>
          )}
        </div>
      </details>
      {editing !== null && <TestForm key={editing === "new" ? "new" : editing.id} base={base} test={editing === "new" ? null : editing} onSaved={saved} onCancel={() => setEditing(null)} />}
      {tests && tests.length === 0 && editing === null && (
        <p class="empty" id="no-tests">
          No tests yet: add one with <strong>New test</strong>.
        </p>
      )}
      {tests && tests.length > 0 && (
        <table class="rows" id="tests">
          <thead>
            <tr>
              <th scope="col">
                <span class="visually-hidden">Run</span>
              </th>
              <th scope="col">Test</th>
              <th scope="col">Caller</th>
              <th scope="col">Expects</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tests.map((test) => (
              <tr data-test={test.id}>
                <td>
                  <input type="checkbox" aria-label={`Select ${test.name}`} checked={selected.includes(test.id)} onChange={tick(test.id)} />
                </td>
                <td>{test.name}</td>
                <td>{callerText(test.caller)}</td>
                <td>
                  <ul class="changes">
                    {expectationTexts(test.expectations).map((text) => (
                      <li>{text}</li>
                    ))}
                  </ul>
                </td>
                <td class="row-actions">
                  <button type="button" class="secondary" disabled={editing !== null} onClick={() => setEditing(test)}>
                    Edit<span class="visually-hidden"> {test.name}</span>
                  </button>
                  {confirming === test.id ? (
                    <span class="inline-confirm">
                      <button type="button" class="danger" disabled={busy} onClick={() => remove(test)}>
                        Delete {test.name}
                      </button>
                      <button type="button" class="secondary" onClick={() => setConfirming(null)}>
                        Cancel
                      </button>
                    </span>
                  ) : (
                    <button type="button" class="secondary" aria-label={`Delete ${test.name}…`} onClick={() => setConfirming(test.id)}>
                      Delete…
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <TestRuns id={id} base={base} current={current} refresh={refresh} />
    </section>
  );
}
