import { useEffect, useState } from "preact/hooks";

import { api } from "../api.js";
import { dateTime } from "../format.js";

/** The organization's API keys: create one (its key shown this once), revoke. */
export function ApiKeys() {
  const [keys, setKeys] = useState(null);
  const [name, setName] = useState("");
  const [scope, setScope] = useState("organization");
  const [created, setCreated] = useState(null);
  const [confirming, setConfirming] = useState(null);
  const [error, setError] = useState(null);
  const [nameError, setNameError] = useState(null);
  const [busy, setBusy] = useState(false);

  const load = () =>
    api
      .get("/api/v1/api-keys")
      .then(setKeys)
      .catch((caught) => setError(caught.message));
  useEffect(() => {
    load();
  }, []);

  const create = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setNameError(null);
    try {
      setCreated(await api.post("/api/v1/api-keys", { name, scope }));
      setName("");
      await load();
    } catch (caught) {
      setError(caught.message);
      setNameError(caught.fieldErrors?.().name || null);
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (key) => {
    setBusy(true);
    try {
      await api.delete(`/api/v1/api-keys/${key.id}`);
      setConfirming(null);
      if (created?.id === key.id) setCreated(null);
      await load();
    } catch (caught) {
      setError(caught.message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="list-page">
      <div class="page-head">
        <h1>API keys</h1>
      </div>
      <form class="filters" onSubmit={create} noValidate aria-label="Create a key">
        <label for="key-name">Name</label>
        <input
          id="key-name"
          type="text"
          value={name}
          aria-invalid={nameError ? "true" : undefined}
          aria-describedby={nameError ? "key-name-error" : undefined}
          onInput={(event) => setName(event.currentTarget.value)}
        />
        <label for="key-scope">Scope</label>
        <select id="key-scope" value={scope} onChange={(event) => setScope(event.currentTarget.value)}>
          <option value="organization">organization: everything the organization has</option>
          <option value="user">user: only your own resources</option>
        </select>
        <button type="submit" id="create-key" disabled={busy}>
          Create key
        </button>
        {nameError && (
          <p class="field-error" id="key-name-error">
            {nameError}
          </p>
        )}
      </form>
      {created && (
        <div class="notice" role="status" id="created-key">
          <p>
            <strong>{created.name}</strong>: copy this key now, it is never shown again.
          </p>
          <code class="secret" id="created-key-value">
            {created.key}
          </code>
          <button type="button" class="secondary" onClick={() => navigator.clipboard?.writeText(created.key)}>
            Copy
          </button>
        </div>
      )}
      {error && (
        <p class="alert" role="alert">
          {error}
        </p>
      )}
      {keys === null && !error && <p class="loading">Loading…</p>}
      {keys && (
        <table class="rows" id="api-keys">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Key</th>
              <th scope="col">Scope</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Status</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.map((key) => (
              <tr data-id={key.id}>
                <td>{key.name}</td>
                <td>
                  <code>{key.prefix}…</code>
                </td>
                <td>{key.scope}</td>
                <td>{dateTime(key.created_at)}</td>
                <td>{dateTime(key.last_used_at)}</td>
                <td>
                  <span class={`badge ${key.revoked_at ? "off" : "ok"}`}>{key.revoked_at ? "revoked" : "active"}</span>
                </td>
                <td>
                  {!key.revoked_at &&
                    (confirming === key.id ? (
                      <span class="inline-confirm">
                        <button type="button" class="danger" disabled={busy} onClick={() => revoke(key)}>
                          Revoke {key.name}
                        </button>
                        <button type="button" class="secondary" onClick={() => setConfirming(null)}>
                          Cancel
                        </button>
                      </span>
                    ) : (
                      <button type="button" class="secondary" aria-label={`Revoke the key ${key.name}`} onClick={() => setConfirming(key.id)}>
                        Revoke
                      </button>
                    ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
