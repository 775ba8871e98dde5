import { useEffect, useState } from "preact/hooks";

import { api } from "../api.js";
import { dateTime, duration, queryString } from "../format.js";
import { Pager, pageOf } from "../pager.jsx";
import { Link, navigate, useLocation } from "../router.jsx";

const PAGE_SIZE = 25;
const STATUSES = ["queued", "ringing", "in-progress", "forwarding", "ended"];
const DIRECTIONS = ["inbound", "outbound", "web"];

// A date input's day → the API's created_after / created_before bounds (local days).
const dayStart = (day) => (day ? new Date(`${day}T00:00:00`).toISOString() : undefined);
const dayEnd = (day) => (day ? new Date(`${day}T23:59:59.999`).toISOString() : undefined);

/** Calls, newest first, filtered by assistant, status, direction and days; the filters
 * live in the URL. */
export function CallList() {
  const { query } = useLocation();
  const filters = {
    assistant: query.get("assistant") || "",
    status: query.get("status") || "",
    direction: query.get("direction") || "",
    from: query.get("from") || "",
    to: query.get("to") || "",
  };
  const page = pageOf(query);
  const [assistants, setAssistants] = useState([]);
  const [rows, setRows] = useState(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState(null);
  const key = JSON.stringify([filters, page]);

  useEffect(() => {
    api
      .get("/api/v1/assistants", { limit: 1000 })
      .then(setAssistants)
      .catch((caught) => setError(caught.message));
  }, []);

  useEffect(() => {
    let live = true;
    setError(null);
    api
      .get("/api/v1/calls", {
        assistant_id: filters.assistant,
        status: filters.status,
        direction: filters.direction,
        created_after: dayStart(filters.from),
        created_before: dayEnd(filters.to),
        skip: (page - 1) * PAGE_SIZE,
        limit: PAGE_SIZE + 1,
      })
      .then((found) => {
        if (!live) return;
        setRows(found.slice(0, PAGE_SIZE));
        setMore(found.length > PAGE_SIZE);
      })
      .catch((caught) => live && setError(caught.message));
    return () => {
      live = false;
    };
  }, [key]);

  const go = (changes) => {
    const next = { ...filters, page: String(page), ...changes };
    if (next.page === "1") delete next.page;
    navigate(`/app/calls${queryString(next)}`);
  };
  const names = Object.fromEntries(assistants.map((assistant) => [assistant.id, assistant.name]));
  const select = (name, label, options) => (
    <span class="filter">
      <label for={`filter-${name}`}>{label}</label>
      <select id={`filter-${name}`} value={filters[name]} onChange={(event) => go({ [name]: event.currentTarget.value, page: "1" })}>
        <option value="">any</option>
        {options.map(([value, text]) => (
          <option value={value}>{text}</option>
        ))}
      </select>
    </span>
  );
  const day = (name, label) => (
    <span class="filter">
      <label for={`filter-${name}`}>{label}</label>
      <input id={`filter-${name}`} type="date" value={filters[name]} onChange={(event) => go({ [name]: event.currentTarget.value, page: "1" })} />
    </span>
  );

  return (
    <section class="list-page">
      <div class="page-head">
        <h1>Calls</h1>
      </div>
      <div class="filters" role="search">
        {select("assistant", "Assistant", assistants.map((assistant) => [String(assistant.id), assistant.name]))}
        {select("status", "Status", STATUSES.map((status) => [status, status]))}
        {select("direction", "Direction", DIRECTIONS.map((direction) => [direction, direction]))}
        {day("from", "From")}
        {day("to", "To")}
      </div>
      {error && (
        <p class="alert" role="alert">
          {error}
        </p>
      )}
      {rows === null && !error && <p class="loading">Loading…</p>}
      {rows && rows.length === 0 && (
        <p class="empty" id="no-calls">
          No calls match.
        </p>
      )}
      {rows && rows.length > 0 && (
        <table class="rows" id="calls">
          <thead>
            <tr>
              <th scope="col">Call</th>
              <th scope="col">Assistant</th>
              <th scope="col">Direction</th>
              <th scope="col">Status</th>
              <th scope="col">Started</th>
              <th scope="col">Duration</th>
              <th scope="col">Ended because</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((call) => (
              <tr data-id={call.id}>
                <td>
                  <Link href={`/app/calls/${call.id}`}>#{call.id}</Link>
                  {call.customer_number && <span class="sub">{call.customer_number}</span>}
                </td>
                <td>{call.assistant_id ? names[call.assistant_id] || `#${call.assistant_id}` : "—"}</td>
                <td>{call.direction}</td>
                <td>
                  <span class={`badge ${call.status === "ended" ? "off" : "ok"}`}>{call.status}</span>
                </td>
                <td>{dateTime(call.started_at)}</td>
                <td>{duration(call.duration_seconds)}</td>
                <td>{call.end_reason || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager page={page} more={more} onPage={(next) => go({ page: String(next) })} />
    </section>
  );
}
