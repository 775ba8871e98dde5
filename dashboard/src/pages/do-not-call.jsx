import { useEffect, useState } from "preact/hooks";

import { api, fieldError } from "../api.js";
import { dateTime } from "../format.js";
import { Pager } from "../pager.jsx";
import { Link } from "../router.jsx";

const PAGE_SIZE = 50;
const EMPTY = { number: "", reason: "" };

/** The organization's do-not-call list: every campaign skips these numbers. */
export function DoNotCall() {
  const [page, setPage] = useState(1);
  const [rows, setRows] = useState(null);
  const [more, setMore] = useState(false);
  const [form, setForm] = useState(EMPTY);
  const [errors, setErrors] = useState({});
  const [problem, setProblem] = useState(null);
  const [confirming, setConfirming] = useState(null);
  const [busy, setBusy] = useState(false);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    let live = true;
    api
      .get("/api/v1/do-not-call", { skip: (page - 1) * PAGE_SIZE, limit: PAGE_SIZE + 1 })
      .then((found) => {
        if (!live) return;
        setRows(found.slice(0, PAGE_SIZE));
        setMore(found.length > PAGE_SIZE);
      })
      .catch((caught) => live && setProblem(caught.message));
    return () => {
      live = false;
    };
  }, [page, version]);

  const add = async (event) => {
    event.preventDefault();
    setErrors({});
    setProblem(null);
    setBusy(true);
    try {
      await api.post("/api/v1/do-not-call", { number: form.number.trim(), reason: form.reason.trim() || undefined });
      setForm(EMPTY);
      setVersion((count) => count + 1);
    } catch (caught) {
      setProblem(caught.message);
      setErrors(caught.fieldErrors?.() || {});
      document.getElementById("dnc-number")?.focus();
    } finally {
      setBusy(false);
    }
  };

  const remove = async (number) => {
    setBusy(true);
    try {
      await api.delete(`/api/v1/do-not-call/${encodeURIComponent(number)}`);
      setConfirming(null);
      setVersion((count) => count + 1);
    } catch (caught) {
      setProblem(caught.message);
    } finally {
      setBusy(false);
    }
  };

  const numberError = fieldError(errors, "number");
  const reasonError = fieldError(errors, "reason");
  return (
    <section class="list-page">
      <p class="crumbs">
        <Link href="/app/campaigns">Campaigns</Link> /
      </p>
      <div class="page-head">
        <h1>Do-not-call list</h1>
      </div>
      <p class="hint">No campaign of this organization calls these numbers; a recipient on the list is marked do-not-call instead.</p>
      <form class="panel credential-form" onSubmit={add} noValidate aria-label="Add a number to the do-not-call list">
        <div class="field">
          <label for="dnc-number">Number</label>
          <input
            id="dnc-number"
            type="text"
            inputmode="tel"
            autocomplete="off"
            value={form.number}
            aria-invalid={numberError ? "true" : undefined}
            aria-describedby={`dnc-number-help${numberError ? " dnc-number-error" : ""}`}
            onInput={(event) => setForm({ ...form, number: event.currentTarget.value })}
          />
          <p class="help" id="dnc-number-help">
            In E.164 form, such as +14155550123.
          </p>
          {numberError && (
            <p class="field-error" id="dnc-number-error">
              {numberError}
            </p>
          )}
        </div>
        <div class="field">
          <label for="dnc-reason">Reason</label>
          <input id="dnc-reason" type="text" value={form.reason} aria-invalid={reasonError ? "true" : undefined} onInput={(event) => setForm({ ...form, reason: event.currentTarget.value })} />
          <p class="help">Optional: why, for whoever reads the list later.</p>
          {reasonError && <p class="field-error">{reasonError}</p>}
        </div>
        <div class="actions">
          <button type="submit" id="add-do-not-call" disabled={busy}>
            Add to the list
          </button>
        </div>
      </form>
      {problem && (
        <p class="alert" role="alert" id="dnc-error">
          {problem}
        </p>
      )}
      {rows && rows.length === 0 && (
        <p class="empty" id="no-do-not-call">
          Nobody is on the list.
        </p>
      )}
      {rows && rows.length > 0 && (
        <table class="rows" id="do-not-call">
          <thead>
            <tr>
              <th scope="col">Number</th>
              <th scope="col">Reason</th>
              <th scope="col">Added</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr data-number={row.number}>
                <td>
                  <code>{row.number}</code>
                </td>
                <td>{row.reason || "—"}</td>
                <td>{dateTime(row.created_at)}</td>
                <td>
                  {confirming === row.number ? (
                    <span class="inline-confirm">
                      <button type="button" class="danger" disabled={busy} onClick={() => remove(row.number)}>
                        Remove {row.number}
                      </button>
                      <button type="button" class="secondary" onClick={() => setConfirming(null)}>
                        Keep
                      </button>
                    </span>
                  ) : (
                    <button type="button" class="secondary" aria-label={`Take ${row.number} off the list`} onClick={() => setConfirming(row.number)}>
                      Remove
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager page={page} more={more} onPage={setPage} />
    </section>
  );
}
