import { useEffect, useState } from "preact/hooks";

import { api } from "../api.js";
import { Pager, pageOf } from "../pager.jsx";
import { Link, navigate, useLocation } from "../router.jsx";

const PAGE_SIZE = 20;

/** The organization's assistants, newest first: search by name, active filter, pages.
 * The filters live in the URL, so Back and a reload keep them. */
export function AssistantList() {
  const { query } = useLocation();
  const search = query.get("q") || "";
  const activeOnly = query.get("active") === "1";
  const page = pageOf(query);
  const [rows, setRows] = useState(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState(null);
  const [typed, setTyped] = useState(search);
  // Back and Forward change the search in the URL: the box follows.
  useEffect(() => setTyped(search), [search]);

  useEffect(() => {
    let live = true;
    setError(null);
    // One more than a page: whether a next page exists, without a count query.
    api
      .get("/api/v1/assistants", {
        name: search,
        active_only: activeOnly ? "true" : undefined,
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
  }, [search, activeOnly, page]);

  const go = (changes) => {
    const next = new URLSearchParams({ q: search, active: activeOnly ? "1" : "", page: String(page), ...changes });
    for (const [name, value] of [...next.entries()]) {
      if (!value || (name === "page" && value === "1")) next.delete(name);
    }
    const suffix = next.toString();
    navigate(`/app/assistants${suffix ? `?${suffix}` : ""}`);
  };

  return (
    <section class="list-page">
      <div class="page-head">
        <h1>Assistants</h1>
        <div class="actions">
          <Link href="/app/assistants/import" class="button secondary" id="import-assistant">
            Import
          </Link>
          <Link href="/app/assistants/new" class="button" id="new-assistant">
            New assistant
          </Link>
        </div>
      </div>
      <form
        class="filters"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          go({ q: typed.trim(), page: "1" });
        }}
      >
        <label for="search">Search by name</label>
        <input id="search" type="search" value={typed} onInput={(event) => setTyped(event.currentTarget.value)} />
        <button type="submit" class="secondary">
          Search
        </button>
        <label class="inline">
          <input
            type="checkbox"
            id="active-only"
            checked={activeOnly}
            onChange={(event) => go({ active: event.currentTarget.checked ? "1" : "", page: "1" })}
          />
          Active only
        </label>
      </form>
      {error && (
        <p class="alert" role="alert">
          {error}
        </p>
      )}
      {rows === null && !error && <p class="loading">Loading…</p>}
      {rows && rows.length === 0 && (
        <p class="empty" id="no-assistants">
          {search || activeOnly ? "No assistant matches." : "No assistants yet: create the first one."}
        </p>
      )}
      {rows && rows.length > 0 && (
        <table class="rows" id="assistants">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Model</th>
              <th scope="col">Voice</th>
              <th scope="col">Transcriber</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr data-id={row.id}>
                <td>
                  <Link href={`/app/assistants/${row.id}`}>{row.name}</Link>
                  {row.description && <span class="sub">{row.description}</span>}
                </td>
                <td>
                  {row.llm_provider} {row.llm_provider_config?.model && <span class="sub">{row.llm_provider_config.model}</span>}
                </td>
                <td>
                  {row.tts_settings.provider} <span class="sub">{row.tts_settings.voice_id}</span>
                </td>
                <td>{row.stt_settings.model}</td>
                <td>
                  <span class={`badge ${row.is_active ? "ok" : "off"}`}>{row.is_active ? "active" : "inactive"}</span>
                </td>
                <td>
                  <time dateTime={row.created_at}>{new Date(row.created_at).toLocaleString()}</time>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager page={page} more={more} onPage={(next) => go({ page: String(next) })} />
    </section>
  );
}
