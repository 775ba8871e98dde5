import { useEffect, useState } from "preact/hooks";

import { api } from "../api.js";
import { dateTime } from "../format.js";
import { Pager } from "../pager.jsx";
import { Link } from "../router.jsx";
import { actionText, authorText, changeLines } from "../versions.js";

const PAGE_SIZE = 20;

/** One version's whole settings (GET …/versions/{n}; secrets masked), shown on demand. */
function Settings({ base, number }) {
  const [version, setVersion] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api
      .get(`${base}/versions/${number}`)
      .then(setVersion)
      .catch((caught) => setError(caught.message));
  }, [base, number]);
  if (error) return <p class="alert">{error}</p>;
  if (!version) return <p class="loading">Loading…</p>;
  return (
    <pre class="code version-settings" id={`version-${number}-settings`}>
      {JSON.stringify(version.settings, null, 2)}
    </pre>
  );
}

/** An assistant's versions, newest first: what changed, who stored it and when; any
 * version's settings shown, and any but the newest restored (which stores a new one). */
export function AssistantVersions({ id }) {
  const base = `/api/v1/assistants/${encodeURIComponent(id)}`;
  const [assistant, setAssistant] = useState(null);
  const [page, setPage] = useState(1);
  const [rows, setRows] = useState(null);
  const [more, setMore] = useState(false);
  const [open, setOpen] = useState(null);
  const [confirming, setConfirming] = useState(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState(null);
  const [problem, setProblem] = useState(null);
  const [refresh, setRefresh] = useState(0);

  useEffect(() => {
    api
      .get(base)
      .then(setAssistant)
      .catch((caught) => setProblem(caught.message));
  }, [base, refresh]);

  useEffect(() => {
    let live = true;
    api
      .get(`${base}/versions`, { skip: (page - 1) * PAGE_SIZE, limit: PAGE_SIZE + 1 })
      .then((found) => {
        if (!live) return;
        setRows(found.slice(0, PAGE_SIZE));
        setMore(found.length > PAGE_SIZE);
      })
      .catch((caught) => live && setProblem(caught.message));
    return () => {
      live = false;
    };
  }, [base, page, refresh]);

  const restore = async (number) => {
    setBusy(true);
    setProblem(null);
    try {
      await api.post(`${base}/versions/${number}/restore`);
      setConfirming(null);
      setNotice(`Version ${number} restored: its settings are the assistant's again, stored as a new version.`);
      setPage(1);
      setRefresh((count) => count + 1);
    } catch (caught) {
      setProblem(caught.message);
    } finally {
      setBusy(false);
    }
  };

  const newest = page === 1 && rows?.length ? rows[0].version : null;
  return (
    <section class="list-page">
      <p class="crumbs">
        <Link href="/app/assistants">Assistants</Link> / <Link href={`/app/assistants/${id}`}>{assistant?.name || `#${id}`}</Link> /
      </p>
      <div class="page-head">
        <h1>Versions</h1>
      </div>
      <p class="hint">Every change to the assistant is stored as a version; calls and test runs record the version they used.</p>
      {notice && (
        <p class="notice" role="status" id="versions-notice">
          {notice}
        </p>
      )}
      {problem && (
        <p class="alert" role="alert" id="versions-error">
          {problem}
        </p>
      )}
      {rows && rows.length === 0 && <p class="empty">No versions stored.</p>}
      {rows && rows.length > 0 && (
        <table class="rows" id="versions">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">What</th>
              <th scope="col">Changed</th>
              <th scope="col">By</th>
              <th scope="col">When</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((version) => {
              const { lines, more: hidden } = changeLines(version.changes);
              return (
                <>
                  <tr data-version={version.version} data-action={version.action}>
                    <td>
                      v{version.version}
                      {version.version === newest && <span class="badge ok">current</span>}
                    </td>
                    <td>{actionText(version)}</td>
                    <td>
                      <ul class="changes">
                        {lines.map((line) => (
                          <li>
                            <code>{line}</code>
                          </li>
                        ))}
                        {hidden > 0 && <li class="sub">and {hidden} more</li>}
                      </ul>
                    </td>
                    <td>{authorText(version.created_by)}</td>
                    <td>{dateTime(version.created_at)}</td>
                    <td class="row-actions">
                      <button
                        type="button"
                        class="secondary"
                        aria-expanded={open === version.version ? "true" : "false"}
                        onClick={() => setOpen(open === version.version ? null : version.version)}
                      >
                        {open === version.version ? "Hide" : "Settings"}
                        <span class="visually-hidden"> of version {version.version}</span>
                      </button>
                      {version.version !== newest &&
                        (confirming === version.version ? (
                          <span class="inline-confirm">
                            <button type="button" class="danger" disabled={busy} onClick={() => restore(version.version)}>
                              Restore version {version.version}
                            </button>
                            <button type="button" class="secondary" onClick={() => setConfirming(null)}>
                              Cancel
                            </button>
                          </span>
                        ) : (
                          <button type="button" class="secondary" aria-label={`Restore version ${version.version}…`} onClick={() => setConfirming(version.version)}>
                            Restore…
                          </button>
                        ))}
                    </td>
                  </tr>
                  {open === version.version && (
                    <tr class="version-detail">
                      <td colspan="6">
                        <Settings base={base} number={version.version} />
                      </td>
                    </tr>
                  )}
                </>
              );
            })}
          </tbody>
        </table>
      )}
      <Pager page={page} more={more} onPage={setPage} />
    </section>
  );
}
