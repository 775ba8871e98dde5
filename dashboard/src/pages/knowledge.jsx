import { useEffect, useState } from "preact/hooks";

import { api, upload } from "../api.js";
import { dateTime } from "../format.js";
import { Link } from "../router.jsx";

const SETTLED = new Set(["ready", "failed"]);
const POLL_MS = 1500;

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** An assistant's knowledge base: upload with progress, processing status (polled while
 * a document is pending), delete, and a search that runs the retrieval a call would. */
export function Knowledge({ id }) {
  const base = `/api/v1/assistants/${encodeURIComponent(id)}`;
  const [assistant, setAssistant] = useState(null);
  const [documents, setDocuments] = useState(null);
  const [progress, setProgress] = useState(null);
  const [problem, setProblem] = useState(null);
  const [confirming, setConfirming] = useState(null);
  const [query, setQuery] = useState("");
  const [found, setFound] = useState(null);
  const [refresh, setRefresh] = useState(0);

  useEffect(() => {
    api
      .get(base)
      .then(setAssistant)
      .catch((caught) => setProblem(caught.message));
  }, [base]);

  useEffect(() => {
    let live = true;
    let timer = null;
    api
      .get(`${base}/documents`)
      .then((rows) => {
        if (!live) return;
        setDocuments(rows);
        if (rows.some((row) => !SETTLED.has(row.status))) {
          timer = setTimeout(() => setRefresh((count) => count + 1), POLL_MS);
        }
      })
      .catch((caught) => live && setProblem(caught.message));
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [base, refresh]);

  const send = async (event) => {
    const file = event.currentTarget.files?.[0];
    event.currentTarget.value = "";
    if (!file) return;
    setProblem(null);
    setProgress(0);
    try {
      await upload(`${base}/documents`, "file", file, setProgress);
      setRefresh((count) => count + 1);
    } catch (caught) {
      setProblem(caught.message);
    } finally {
      setProgress(null);
    }
  };

  const remove = async (document) => {
    try {
      await api.delete(`${base}/documents/${document.id}`);
      setConfirming(null);
      setRefresh((count) => count + 1);
    } catch (caught) {
      setProblem(caught.message);
    }
  };

  const search = async (event) => {
    event.preventDefault();
    setProblem(null);
    try {
      setFound(await api.post(`${base}/knowledge/search`, { query }));
    } catch (caught) {
      setProblem(caught.message);
      setFound(null);
    }
  };

  return (
    <section class="list-page">
      <p class="crumbs">
        <Link href="/app/assistants">Assistants</Link> /{" "}
        <Link href={`/app/assistants/${id}`}>{assistant?.name || `#${id}`}</Link> /
      </p>
      <h1>Knowledge</h1>
      {assistant && !assistant.rag_settings.enabled && (
        <p class="hint" id="rag-off">
          Retrieval is off for this assistant: calls do not use these documents until “Use knowledge” is on.
        </p>
      )}
      <div class="panel">
        <label for="document-file">Upload a document (txt, md, html, pdf, docx, csv, json)</label>
        <input id="document-file" type="file" onChange={send} disabled={progress !== null} />
        {progress !== null && (
          <progress id="upload-progress" max="1" value={progress} aria-label="Upload progress">
            {Math.round(progress * 100)}%
          </progress>
        )}
      </div>
      {problem && (
        <p class="alert" role="alert" id="knowledge-error">
          {problem}
        </p>
      )}
      {documents && documents.length === 0 && <p class="empty">No documents yet.</p>}
      {documents && documents.length > 0 && (
        <table class="rows" id="documents">
          <thead>
            <tr>
              <th scope="col">Document</th>
              <th scope="col">Size</th>
              <th scope="col">Status</th>
              <th scope="col">Chunks</th>
              <th scope="col">Added</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {documents.map((document) => (
              <tr data-id={document.id} data-status={document.status}>
                <td>
                  {document.name}
                  {document.error && <span class="sub field-error">{document.error}</span>}
                </td>
                <td>{size(document.size_bytes)}</td>
                <td>
                  <span class={`badge ${document.status === "ready" ? "ok" : "off"}`}>{document.status}</span>
                </td>
                <td>{document.chunk_count}</td>
                <td>{dateTime(document.created_at)}</td>
                <td>
                  {confirming === document.id ? (
                    <span class="inline-confirm">
                      <button type="button" class="danger" onClick={() => remove(document)}>
                        Delete {document.name}
                      </button>
                      <button type="button" class="secondary" onClick={() => setConfirming(null)}>
                        Cancel
                      </button>
                    </span>
                  ) : (
                    <button type="button" class="secondary" aria-label={`Delete ${document.name}`} onClick={() => setConfirming(document.id)}>
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="filters panel" role="search" onSubmit={search}>
        <label for="knowledge-query">Search as a call would</label>
        <input id="knowledge-query" type="search" value={query} onInput={(event) => setQuery(event.currentTarget.value)} />
        <button type="submit" class="secondary">
          Search
        </button>
      </form>
      {found && (
        <ol class="passages" id="passages">
          {found.results.length === 0 && <li class="empty">Nothing close enough.</li>}
          {found.results.map((result) => (
            <li>
              <span class="badge ok">{result.score.toFixed(2)}</span>
              {result.metadata?.document_name && <span class="sub">{result.metadata.document_name}</span>}
              <p>{result.text}</p>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
