import { useEffect, useState } from "preact/hooks";

import { api } from "../api.js";
import { dateTime } from "../format.js";
import { choicesOf, loadOpenApi } from "../schema.js";

// What each provider takes (the API names whatever is missing or not used in a 422).
const FIELDS = [
  { name: "api_key", label: "API key", secret: true, help: "Every provider but twilio." },
  { name: "base_url", label: "Base URL", help: "Optional: a proxy, a region or a self-hosted endpoint." },
  { name: "region", label: "Region", help: "azure only, such as eastus." },
  { name: "account_sid", label: "Account SID", help: "twilio only (AC…); checked with Twilio." },
  { name: "auth_token", label: "Auth token", secret: true, help: "twilio only." },
];

/** The organization's provider credentials: one a provider, secrets masked. */
export function Credentials() {
  const [providers, setProviders] = useState([]);
  const [rows, setRows] = useState(null);
  const [provider, setProvider] = useState("");
  const [values, setValues] = useState({});
  const [errors, setErrors] = useState({});
  const [problem, setProblem] = useState(null);
  const [confirming, setConfirming] = useState(null);
  const [busy, setBusy] = useState(false);

  const load = () =>
    api
      .get("/api/v1/credentials")
      .then(setRows)
      .catch((caught) => setProblem(caught.message));
  useEffect(() => {
    load();
    loadOpenApi()
      .then((openapi) => {
        const choices = choicesOf(openapi, "CredentialIn", "provider");
        setProviders(choices);
        setProvider(choices[0] || "");
      })
      .catch((caught) => setProblem(caught.message));
  }, []);

  const add = async (event) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    setErrors({});
    const body = { provider };
    for (const field of FIELDS) {
      if (values[field.name]?.trim()) body[field.name] = values[field.name].trim();
    }
    try {
      await api.post("/api/v1/credentials", body);
      setValues({});
      await load();
    } catch (caught) {
      setProblem(caught.message);
      setErrors(caught.fieldErrors?.() || {});
    } finally {
      setBusy(false);
    }
  };

  const remove = async (row) => {
    setBusy(true);
    try {
      await api.delete(`/api/v1/credentials/${row.id}`);
      setConfirming(null);
      await load();
    } catch (caught) {
      setProblem(caught.message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="list-page">
      <div class="page-head">
        <h1>Provider credentials</h1>
      </div>
      <p class="hint">
        The organization's keys, used by every assistant that names no key of its own. Stored encrypted; shown masked.
      </p>
      <form class="panel credential-form" onSubmit={add} noValidate aria-label="Add a credential">
        <div class="field">
          <label for="credential-provider">Provider</label>
          <select id="credential-provider" value={provider} onChange={(event) => setProvider(event.currentTarget.value)}>
            {providers.map((choice) => (
              <option value={choice}>{choice}</option>
            ))}
          </select>
        </div>
        {FIELDS.map((field) => (
          <div class="field" data-invalid={errors[field.name] ? "true" : undefined}>
            <label for={`credential-${field.name}`}>{field.label}</label>
            <input
              id={`credential-${field.name}`}
              type={field.secret ? "password" : "text"}
              autocomplete="off"
              value={values[field.name] || ""}
              aria-invalid={errors[field.name] ? "true" : undefined}
              aria-describedby={`credential-${field.name}-help${errors[field.name] ? ` credential-${field.name}-error` : ""}`}
              onInput={(event) => setValues({ ...values, [field.name]: event.currentTarget.value })}
            />
            <p class="help" id={`credential-${field.name}-help`}>
              {field.help}
            </p>
            {errors[field.name] && (
              <p class="field-error" id={`credential-${field.name}-error`}>
                {errors[field.name]}
              </p>
            )}
          </div>
        ))}
        <div class="actions">
          <button type="submit" id="add-credential" disabled={busy || !provider}>
            Add credential
          </button>
        </div>
      </form>
      {problem && (
        <p class="alert" role="alert" id="credentials-error">
          {problem}
        </p>
      )}
      {rows && rows.length === 0 && (
        <p class="empty" id="no-credentials">
          No credentials: assistants use their own keys or the server's.
        </p>
      )}
      {rows && rows.length > 0 && (
        <table class="rows" id="credentials">
          <thead>
            <tr>
              <th scope="col">Provider</th>
              <th scope="col">Key</th>
              <th scope="col">Endpoint</th>
              <th scope="col">Updated</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr data-provider={row.provider}>
                <td>{row.provider}</td>
                <td>
                  <code>{row.api_key || row.auth_token || "—"}</code>
                  {row.account_sid && <span class="sub">{row.account_sid}</span>}
                </td>
                <td>{row.base_url || row.region || "the vendor's"}</td>
                <td>{dateTime(row.updated_at)}</td>
                <td>
                  {confirming === row.id ? (
                    <span class="inline-confirm">
                      <button type="button" class="danger" disabled={busy} onClick={() => remove(row)}>
                        Delete {row.provider}
                      </button>
                      <button type="button" class="secondary" onClick={() => setConfirming(null)}>
                        Cancel
                      </button>
                    </span>
                  ) : (
                    <button type="button" class="secondary" aria-label={`Delete the ${row.provider} credential`} onClick={() => setConfirming(row.id)}>
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
