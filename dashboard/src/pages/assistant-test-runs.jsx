import { useEffect, useState } from "preact/hooks";

import { api } from "../api.js";
import { isRunActive, progressText, runOutcome } from "../assistant-tests.js";
import { dateTime, queryString } from "../format.js";
import { Pager, pageOf } from "../pager.jsx";
import { Link, navigate, useLocation } from "../router.jsx";

const PAGE_SIZE = 20;
const POLL_MS = 2000;
const BADGES = { passed: "ok", failed: "bad", running: "off", pending: "off" };

/** A run's outcome as a badge. */
export function Outcome({ outcome, id }) {
  return (
    <span class={`badge ${BADGES[outcome] || "off"}`} id={id} data-outcome={outcome}>
      {outcome}
    </span>
  );
}

/** The assistant's test runs, newest first, each with the version it tested; filtered by
 * version (`?version=`, kept in the URL with the page) so runs compare across versions. */
export function TestRuns({ id, base, current, refresh }) {
  const { path, query } = useLocation();
  const version = query.get("version") || "";
  const page = pageOf(query);
  const [versions, setVersions] = useState([]);
  const [rows, setRows] = useState(null);
  const [more, setMore] = useState(false);
  const [problem, setProblem] = useState(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    api
      .get(`${base}/versions`, { limit: 1000 })
      .then((found) => setVersions(found.map((entry) => entry.version)))
      .catch((caught) => setProblem(caught.message));
  }, [base, refresh]);

  useEffect(() => {
    let live = true;
    api
      .get(`${base}/tests/runs`, { version, skip: (page - 1) * PAGE_SIZE, limit: PAGE_SIZE + 1 })
      .then((found) => {
        if (!live) return;
        setRows(found.slice(0, PAGE_SIZE));
        setMore(found.length > PAGE_SIZE);
        setProblem(null);
      })
      .catch((caught) => live && setProblem(caught.message));
    return () => {
      live = false;
    };
  }, [base, version, page, refresh, tick]);

  const active = (rows || []).some(isRunActive);
  useEffect(() => {
    if (!active) return undefined;
    const timer = setTimeout(() => setTick((count) => count + 1), POLL_MS);
    return () => clearTimeout(timer);
  }, [active, tick]);

  const go = (values) => navigate(`${path}${queryString(values)}`);
  return (
    <section class="panel" id="test-runs" aria-labelledby="test-runs-title">
      <div class="page-head">
        <h2 id="test-runs-title">Runs</h2>
        <label class="filter">
          Version{" "}
          <select id="runs-version" value={version} onChange={(event) => go({ version: event.currentTarget.value })}>
            <option value="">All versions</option>
            {versions.map((number) => (
              <option value={String(number)}>
                v{number}
                {number === current ? " (current)" : ""}
              </option>
            ))}
          </select>
        </label>
      </div>
      {problem && (
        <p class="alert" role="alert" id="runs-error">
          {problem}
        </p>
      )}
      {rows && rows.length === 0 && (
        <p class="empty" id="no-runs">
          {version ? `No runs of version ${version}.` : "No runs yet."}
        </p>
      )}
      {rows && rows.length > 0 && (
        <table class="rows" id="runs">
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Version</th>
              <th scope="col">Outcome</th>
              <th scope="col">Progress</th>
              <th scope="col">Requested</th>
              <th scope="col">Finished</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((run) => (
              <tr data-run={run.id} data-version={run.assistant_version}>
                <td>
                  <Link href={`/app/assistants/${id}/tests/runs/${run.id}`}>Run #{run.id}</Link>
                </td>
                <td>
                  v{run.assistant_version}
                  {run.assistant_version === current && <span class="badge ok">current</span>}
                </td>
                <td>
                  <Outcome outcome={runOutcome(run)} />
                  {run.error && <p class="sub">{run.error}</p>}
                </td>
                <td>{progressText(run.progress)}</td>
                <td>{dateTime(run.created_at)}</td>
                <td>{dateTime(run.finished_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager page={page} more={more} onPage={(next) => go({ version, page: next > 1 ? next : "" })} label="Pages of runs" />
    </section>
  );
}
