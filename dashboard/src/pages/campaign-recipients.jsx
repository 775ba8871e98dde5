import { useEffect, useState } from "preact/hooks";

import { api } from "../api.js";
import { recipientsType, uploadSummary } from "../campaigns.js";
import { dateTime } from "../format.js";
import { Pager } from "../pager.jsx";
import { Link } from "../router.jsx";

const PAGE_SIZE = 50;
const STATUSES = ["pending", "in-progress", "retrying", "completed", "failed", "do-not-call", "canceled"];
const BADGE = { completed: "ok", failed: "bad", "in-progress": "ok", canceled: "off", "do-not-call": "off" };

/** Upload reports the create page hands to the campaign's page, by campaign id (read
 * once: a reload does not show an old report again). */
export const uploaded = new Map();

/** What an upload did: rows added, and each rejected row with its reason. */
export function UploadReport({ result }) {
  if (result.error) {
    return (
      <div class="alert" role="alert" id="upload-report" data-state="refused">
        <p>
          {result.file ? `${result.file}: ` : ""}
          {result.error}
        </p>
      </div>
    );
  }
  const { report } = result;
  return (
    <div class={report.rejected.length ? "alert" : "notice"} role="status" id="upload-report" data-accepted={report.accepted} data-rejected={report.rejected.length}>
      <p>
        {result.file ? `${result.file}: ` : ""}
        {uploadSummary(report)}
      </p>
      {report.rejected.length > 0 && (
        <table class="rows" id="rejected-rows">
          <caption>Rejected rows</caption>
          <thead>
            <tr>
              <th scope="col">Row</th>
              <th scope="col">Number</th>
              <th scope="col">Why</th>
            </tr>
          </thead>
          <tbody>
            {report.rejected.map((row) => (
              <tr data-row={row.row}>
                <td>{row.row}</td>
                <td>
                  <code>{row.number ?? "—"}</code>
                </td>
                <td>{row.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** More recipients for a campaign that is not over: a CSV or JSON file. */
export function RecipientsUpload({ campaignId, onUploaded }) {
  const [busy, setBusy] = useState(false);
  const send = async (event) => {
    const file = event.currentTarget.files?.[0];
    event.currentTarget.value = "";
    if (!file) return;
    setBusy(true);
    try {
      const text = await file.text();
      const report = await api.send(`/api/v1/campaigns/${campaignId}/recipients`, text, recipientsType(file.name, text));
      onUploaded({ file: file.name, report });
    } catch (caught) {
      onUploaded({ file: file.name, error: caught.message });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="field">
      <label for="add-recipients">Add recipients (CSV or JSON)</label>
      <input id="add-recipients" type="file" accept=".csv,.json,text/csv,application/json" disabled={busy} onChange={send} />
    </div>
  );
}

/** The campaign's rows in upload order, filtered by state, paged: each row's attempts,
 * last outcome and the calls placed for it. `version` changes when the page polls. */
export function Recipients({ campaignId, version }) {
  const [status, setStatus] = useState("");
  const [page, setPage] = useState(1);
  const [rows, setRows] = useState(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState(null);

  useEffect(() => {
    let live = true;
    api
      .get(`/api/v1/campaigns/${campaignId}/recipients`, { status, skip: (page - 1) * PAGE_SIZE, limit: PAGE_SIZE + 1 })
      .then((found) => {
        if (!live) return;
        setRows(found.slice(0, PAGE_SIZE));
        setMore(found.length > PAGE_SIZE);
        setError(null);
      })
      .catch((caught) => live && setError(caught.message));
    return () => {
      live = false;
    };
  }, [campaignId, status, page, version]);

  return (
    <section class="panel" id="recipients-panel">
      <h2>Recipients</h2>
      <div class="filters" role="search">
        <span class="filter">
          <label for="filter-recipient-status">State</label>
          <select
            id="filter-recipient-status"
            value={status}
            onChange={(event) => {
              setStatus(event.currentTarget.value);
              setPage(1);
            }}
          >
            <option value="">any</option>
            {STATUSES.map((name) => (
              <option value={name}>{name}</option>
            ))}
          </select>
        </span>
      </div>
      {error && (
        <p class="alert" role="alert">
          {error}
        </p>
      )}
      {rows && rows.length === 0 && (
        <p class="empty" id="no-recipients">
          {status ? "No recipient in this state." : "No recipients yet: upload a CSV or JSON file."}
        </p>
      )}
      {rows && rows.length > 0 && (
        <table class="rows" id="recipients">
          <thead>
            <tr>
              <th scope="col">Number</th>
              <th scope="col">Time zone</th>
              <th scope="col">State</th>
              <th scope="col">Attempts</th>
              <th scope="col">Outcome</th>
              <th scope="col">Next try</th>
              <th scope="col">Calls</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr data-number={row.number} data-status={row.status}>
                <td>
                  <code>{row.number}</code>
                  {Object.keys(row.variables).length > 0 && (
                    <span class="sub">
                      {Object.entries(row.variables)
                        .map(([name, value]) => `${name}: ${value}`)
                        .join(", ")}
                    </span>
                  )}
                </td>
                <td>{row.timezone}</td>
                <td>
                  <span class={`badge ${BADGE[row.status] || "off"}`}>{row.status}</span>
                </td>
                <td>{row.attempts}</td>
                <td>
                  {row.outcome || "—"}
                  {row.detail && <span class="sub">{row.detail}</span>}
                </td>
                <td>{row.next_attempt_at ? dateTime(row.next_attempt_at) : "—"}</td>
                <td class="call-links">
                  {row.call_ids.length
                    ? row.call_ids.map((id) => (
                        <Link href={`/app/calls/${id}`} aria-label={`Call #${id} to ${row.number}`}>
                          #{id}
                        </Link>
                      ))
                    : "—"}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager page={page} more={more} onPage={setPage} label="Recipient pages" />
    </section>
  );
}
