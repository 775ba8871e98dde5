import { useEffect, useState } from "preact/hooks";

import { api, fieldError } from "../api.js";
import { dateTime } from "../format.js";
import { Link } from "../router.jsx";

const EMPTY = { number: "", name: "", assistant_id: "", twilio_account_sid: "", configure_webhook: true };

/** One row's assistant, changed in place (PATCH); the API's error shown under it. */
function Assignment({ number, assistants, onSaved }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const assign = async (event) => {
    const value = event.currentTarget.value;
    setBusy(true);
    setError(null);
    try {
      onSaved(await api.patch(`/api/v1/phone-numbers/${number.id}`, { assistant_id: value ? Number(value) : null }));
    } catch (caught) {
      setError(fieldError(caught.fieldErrors?.() || {}, "assistant_id") || caught.message);
    } finally {
      setBusy(false);
    }
  };
  const id = `assign-${number.id}`;
  return (
    <>
      <label for={id} class="visually-hidden">
        Assistant answering {number.number}
      </label>
      <select id={id} value={number.assistant_id ?? ""} disabled={busy} onChange={assign} aria-invalid={error ? "true" : undefined}>
        <option value="">No assistant (calls are refused)</option>
        {assistants.map((assistant) => (
          <option value={assistant.id}>{assistant.name}</option>
        ))}
      </select>
      {error && <p class="field-error">{error}</p>}
    </>
  );
}

/** The organization's carrier numbers: list, add (proven with Twilio by the API),
 * assign to an assistant, delete. */
export function PhoneNumbers() {
  const [numbers, setNumbers] = useState(null);
  const [assistants, setAssistants] = useState([]);
  const [form, setForm] = useState(EMPTY);
  const [errors, setErrors] = useState({});
  const [problem, setProblem] = useState(null);
  const [confirming, setConfirming] = useState(null);
  const [busy, setBusy] = useState(false);

  const load = () =>
    api
      .get("/api/v1/phone-numbers", { limit: 1000 })
      .then(setNumbers)
      .catch((caught) => setProblem(caught.message));
  useEffect(() => {
    load();
    api
      .get("/api/v1/assistants", { limit: 1000 })
      .then(setAssistants)
      .catch((caught) => setProblem(caught.message));
  }, []);

  const add = async (event) => {
    event.preventDefault();
    setProblem(null);
    setErrors({});
    const body = {
      number: form.number.trim(),
      name: form.name.trim() || undefined,
      assistant_id: form.assistant_id ? Number(form.assistant_id) : undefined,
      twilio_account_sid: form.twilio_account_sid.trim() || undefined,
      configure_webhook: form.configure_webhook,
    };
    setBusy(true);
    try {
      await api.post("/api/v1/phone-numbers", body);
      setForm(EMPTY);
      await load();
    } catch (caught) {
      setProblem(caught.message);
      const byField = caught.fieldErrors?.() || {};
      setErrors(byField);
      const first = Object.keys(byField).find((name) => document.getElementById(`number-${name.split(".")[0]}`));
      if (first) document.getElementById(`number-${first.split(".")[0]}`).focus();
    } finally {
      setBusy(false);
    }
  };

  const remove = async (number) => {
    setBusy(true);
    try {
      await api.delete(`/api/v1/phone-numbers/${number.id}`);
      setConfirming(null);
      await load();
    } catch (caught) {
      setProblem(caught.message);
    } finally {
      setBusy(false);
    }
  };

  const input = (field, label, help, props = {}) => {
    const error = fieldError(errors, field);
    return (
      <div class="field">
        <label for={`number-${field}`}>{label}</label>
        <input
          id={`number-${field}`}
          type="text"
          value={form[field]}
          aria-invalid={error ? "true" : undefined}
          aria-describedby={`number-${field}-help${error ? ` number-${field}-error` : ""}`}
          onInput={(event) => setForm({ ...form, [field]: event.currentTarget.value })}
          {...props}
        />
        <p class="help" id={`number-${field}-help`}>
          {help}
        </p>
        {error && (
          <p class="field-error" id={`number-${field}-error`}>
            {error}
          </p>
        )}
      </div>
    );
  };
  const assistantError = fieldError(errors, "assistant_id");
  const replace = (saved) => setNumbers(numbers.map((number) => (number.id === saved.id ? saved : number)));

  return (
    <section class="list-page">
      <div class="page-head">
        <h1>Phone numbers</h1>
      </div>
      <p class="hint">
        Twilio numbers and the assistant each one rings. The API asks Twilio whether your account owns a number before it
        is added; Twilio credentials come from the assistant's Twilio settings or the organization's{" "}
        <Link href="/app/credentials">twilio credential</Link>.
      </p>
      <form class="panel credential-form" onSubmit={add} noValidate aria-label="Add a phone number">
        {input("number", "Number", "In E.164 form, such as +14155550123.", { inputmode: "tel", autocomplete: "off" })}
        {input("name", "Name", "Optional: a label such as Front desk.")}
        <div class="field">
          <label for="number-assistant_id">Assistant</label>
          <select
            id="number-assistant_id"
            value={form.assistant_id}
            aria-invalid={assistantError ? "true" : undefined}
            aria-describedby={assistantError ? "number-assistant_id-error" : undefined}
            onChange={(event) => setForm({ ...form, assistant_id: event.currentTarget.value })}
          >
            <option value="">None yet</option>
            {assistants.map((assistant) => (
              <option value={assistant.id}>{assistant.name}</option>
            ))}
          </select>
          <p class="help">Answers the calls to this number.</p>
          {assistantError && (
            <p class="field-error" id="number-assistant_id-error">
              {assistantError}
            </p>
          )}
        </div>
        {input("twilio_account_sid", "Twilio account SID", "Optional: the account owning the number (AC…), if not the default one.", { autocomplete: "off" })}
        <div class="field field-bool">
          <label for="number-configure_webhook">Point the number at this server</label>
          <input
            id="number-configure_webhook"
            type="checkbox"
            checked={form.configure_webhook}
            onChange={(event) => setForm({ ...form, configure_webhook: event.currentTarget.checked })}
          />
          <p class="help">Sets the number's voice webhook in Twilio to this server's address.</p>
        </div>
        <div class="actions">
          <button type="submit" id="add-number" disabled={busy}>
            Add number
          </button>
        </div>
      </form>
      {problem && (
        <p class="alert" role="alert" id="numbers-error">
          {problem}
        </p>
      )}
      {numbers && numbers.length === 0 && (
        <p class="empty" id="no-numbers">
          No phone numbers yet.
        </p>
      )}
      {numbers && numbers.length > 0 && (
        <table class="rows" id="phone-numbers">
          <thead>
            <tr>
              <th scope="col">Number</th>
              <th scope="col">Assistant</th>
              <th scope="col">Voice webhook</th>
              <th scope="col">Added</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {numbers.map((number) => (
              <tr data-id={number.id} data-number={number.number}>
                <td>
                  <code>{number.number}</code>
                  {number.name && <span class="sub">{number.name}</span>}
                </td>
                <td>
                  <Assignment number={number} assistants={assistants} onSaved={replace} />
                </td>
                <td class="wrap">
                  <code>{number.voice_url}</code>
                </td>
                <td>{dateTime(number.created_at)}</td>
                <td>
                  {confirming === number.id ? (
                    <span class="inline-confirm">
                      <button type="button" class="danger" disabled={busy} onClick={() => remove(number)}>
                        Release {number.number}
                      </button>
                      <button type="button" class="secondary" onClick={() => setConfirming(null)}>
                        Cancel
                      </button>
                    </span>
                  ) : (
                    <button type="button" class="secondary" aria-label={`Delete the number ${number.number}`} onClick={() => setConfirming(number.id)}>
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
