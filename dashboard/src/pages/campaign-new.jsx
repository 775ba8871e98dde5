import { useEffect, useState } from "preact/hooks";

import { api, fieldError } from "../api.js";
import { DAYS, OUTCOMES, defaultRetryForm, recipientsType, retryPolicyBody } from "../campaigns.js";
import { Link, navigate } from "../router.jsx";
import { uploaded } from "./campaign-recipients.jsx";

const EMPTY = {
  name: "",
  assistant_id: "",
  phone_number_ids: [],
  days: ["mon", "tue", "wed", "thu", "fri"],
  start: "09:00",
  end: "17:00",
  default_timezone: "",
  max_concurrency: "5",
};

function Problem({ id, message }) {
  if (!message) return null;
  return (
    <p class="field-error" id={id}>
      {message}
    </p>
  );
}

/** A new campaign: assistant, numbers to call from, recipients (CSV or JSON, the
 * upload's report of rejected rows shown on the campaign's page), calling window,
 * concurrency cap and retry policy. Created as a draft: started from its page. */
export function CampaignNew() {
  const [form, setForm] = useState(EMPTY);
  const [retry, setRetry] = useState(defaultRetryForm);
  const [file, setFile] = useState(null);
  const [assistants, setAssistants] = useState([]);
  const [numbers, setNumbers] = useState([]);
  const [errors, setErrors] = useState({});
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    Promise.all([api.get("/api/v1/assistants", { limit: 1000 }), api.get("/api/v1/phone-numbers", { limit: 1000 })])
      .then(([foundAssistants, foundNumbers]) => {
        setAssistants(foundAssistants);
        setNumbers(foundNumbers);
      })
      .catch((caught) => setProblem(caught.message));
  }, []);

  // An edited field's error goes: it was about the value replaced.
  const forget = (field) =>
    setErrors((current) => Object.fromEntries(Object.entries(current).filter(([name]) => name !== field && !name.startsWith(`${field}.`))));
  const set = (name, field = name) => (event) => {
    setForm({ ...form, [name]: event.currentTarget.value });
    forget(field);
  };
  const toggle = (name, value, field = name) => (event) => {
    const chosen = new Set(form[name]);
    if (event.currentTarget.checked) chosen.add(value);
    else chosen.delete(value);
    setForm({ ...form, [name]: [...chosen] });
    forget(field);
  };

  const create = async (event) => {
    event.preventDefault();
    setErrors({});
    setProblem(null);
    const concurrency = Number(form.max_concurrency);
    const body = {
      name: form.name.trim(),
      assistant_id: form.assistant_id ? Number(form.assistant_id) : null,
      phone_number_ids: form.phone_number_ids.map(Number),
      calling_window: { days: DAYS.map(([day]) => day).filter((day) => form.days.includes(day)), start: form.start, end: form.end },
      default_timezone: form.default_timezone.trim() || null,
      max_concurrency: form.max_concurrency.trim() !== "" && Number.isFinite(concurrency) ? concurrency : form.max_concurrency,
      retry_policy: retryPolicyBody(retry),
    };
    setBusy(true);
    let created;
    try {
      created = await api.post("/api/v1/campaigns", body);
    } catch (caught) {
      setProblem(caught.message);
      const byField = caught.fieldErrors?.() || {};
      setErrors(byField);
      const first = Object.keys(byField)[0]?.split(".")[0];
      document.getElementById(`campaign-${first}`)?.focus();
      setBusy(false);
      return;
    }
    if (file) {
      // The campaign exists from here: an upload the API refuses is shown on its page.
      try {
        const text = await file.text();
        const report = await api.send(`/api/v1/campaigns/${created.id}/recipients`, text, recipientsType(file.name, text));
        uploaded.set(created.id, { file: file.name, report });
      } catch (caught) {
        uploaded.set(created.id, { file: file.name, error: caught.message });
      }
    }
    setBusy(false);
    navigate(`/app/campaigns/${created.id}`);
  };

  return (
    <section class="campaign-new">
      <p class="crumbs">
        <Link href="/app/campaigns">Campaigns</Link> /
      </p>
      <h1>New campaign</h1>
      <form class="campaign-form" onSubmit={create} noValidate aria-label="New campaign">
        <div class="group">
          <h2>Who calls, and whom</h2>
          <div class="field">
            <label for="campaign-name">Name</label>
            <input id="campaign-name" type="text" value={form.name} onInput={set("name")} aria-invalid={fieldError(errors, "name") ? "true" : undefined} />
            <Problem id="campaign-name-error" message={fieldError(errors, "name")} />
          </div>
          <div class="field">
            <label for="campaign-assistant_id">Assistant</label>
            <select id="campaign-assistant_id" value={form.assistant_id} onChange={set("assistant_id")} aria-invalid={fieldError(errors, "assistant_id") ? "true" : undefined}>
              <option value="">Choose an assistant</option>
              {assistants.map((assistant) => (
                <option value={assistant.id}>{assistant.name}</option>
              ))}
            </select>
            <p class="help">It talks to each recipient; the row's columns fill its {"{{variables}}"}.</p>
            <Problem id="campaign-assistant_id-error" message={fieldError(errors, "assistant_id")} />
          </div>
          <fieldset class="choices" id="campaign-phone_number_ids" tabindex="-1" aria-describedby="campaign-numbers-help">
            <legend>Call from</legend>
            {numbers.length === 0 && (
              <p class="help">
                No numbers yet: <Link href="/app/phone-numbers">add one</Link> first.
              </p>
            )}
            {numbers.map((number) => (
              <label class="inline">
                <input type="checkbox" checked={form.phone_number_ids.includes(String(number.id))} onChange={toggle("phone_number_ids", String(number.id))} />
                <code>{number.number}</code> {number.name && <span class="hint">{number.name}</span>}
              </label>
            ))}
            <p class="help" id="campaign-numbers-help">
              Several numbers are used in turn.
            </p>
            <Problem id="campaign-phone_number_ids-error" message={fieldError(errors, "phone_number_ids")} />
          </fieldset>
          <div class="field">
            <label for="campaign-recipients">Recipients (CSV or JSON)</label>
            <input id="campaign-recipients" type="file" accept=".csv,.json,text/csv,application/json" onChange={(event) => setFile(event.currentTarget.files?.[0] || null)} />
            <p class="help">
              CSV: a <code>number</code> column (E.164), an optional <code>timezone</code> column, every other column a template variable. JSON: a list
              of <code>{"{number, timezone?, variables?}"}</code>. Rows the API refuses are listed with the reason; more can be added later.
            </p>
          </div>
        </div>
        <div class="group">
          <h2>When</h2>
          <fieldset class="choices" id="campaign-calling_window" tabindex="-1">
            <legend>Days</legend>
            {DAYS.map(([day, label]) => (
              <label class="inline">
                <input type="checkbox" checked={form.days.includes(day)} onChange={toggle("days", day, "calling_window")} /> {label}
              </label>
            ))}
          </fieldset>
          <div class="times">
            <div class="field">
              <label for="campaign-start">Calls start from</label>
              <input id="campaign-start" type="time" value={form.start} onInput={set("start", "calling_window")} />
            </div>
            <div class="field">
              <label for="campaign-end">No call starts after</label>
              <input id="campaign-end" type="time" value={form.end} onInput={set("end", "calling_window")} />
            </div>
          </div>
          <p class="help">In each recipient's own time zone: the row's timezone column, else its number's country.</p>
          <Problem id="campaign-calling_window-error" message={fieldError(errors, "calling_window")} />
          <div class="field">
            <label for="campaign-default_timezone">Default time zone</label>
            <input id="campaign-default_timezone" type="text" placeholder="Europe/London" value={form.default_timezone} onInput={set("default_timezone")} aria-invalid={fieldError(errors, "default_timezone") ? "true" : undefined} />
            <p class="help">Optional: for a row with no timezone whose country code names none.</p>
            <Problem id="campaign-default_timezone-error" message={fieldError(errors, "default_timezone")} />
          </div>
        </div>
        <div class="group">
          <h2>How hard</h2>
          <div class="field">
            <label for="campaign-max_concurrency">Calls at once, at most</label>
            <input id="campaign-max_concurrency" type="text" inputmode="numeric" value={form.max_concurrency} onInput={set("max_concurrency")} aria-invalid={fieldError(errors, "max_concurrency") ? "true" : undefined} />
            <Problem id="campaign-max_concurrency-error" message={fieldError(errors, "max_concurrency")} />
          </div>
          <table class="rows retry-policy" id="campaign-retry_policy">
            <caption>Retries by outcome (a completed call is never retried)</caption>
            <thead>
              <tr>
                <th scope="col">Outcome</th>
                <th scope="col">Retries</th>
                <th scope="col">Minutes between tries</th>
              </tr>
            </thead>
            <tbody>
              {OUTCOMES.map(([outcome, label]) => (
                <tr data-outcome={outcome}>
                  <th scope="row">{label}</th>
                  <td>
                    <input
                      type="text"
                      inputmode="numeric"
                      aria-label={`${label}: retries`}
                      aria-invalid={fieldError(errors, `retry_policy.${outcome}.max_retries`) ? "true" : undefined}
                      value={retry[outcome].retries}
                      onInput={(event) => {
                        setRetry({ ...retry, [outcome]: { ...retry[outcome], retries: event.currentTarget.value } });
                        forget(`retry_policy.${outcome}`);
                      }}
                    />
                  </td>
                  <td>
                    <input
                      type="text"
                      inputmode="decimal"
                      aria-label={`${label}: minutes between tries`}
                      aria-invalid={fieldError(errors, `retry_policy.${outcome}.retry_after_seconds`) ? "true" : undefined}
                      value={retry[outcome].minutes}
                      onInput={(event) => {
                        setRetry({ ...retry, [outcome]: { ...retry[outcome], minutes: event.currentTarget.value } });
                        forget(`retry_policy.${outcome}`);
                      }}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <Problem id="campaign-retry_policy-error" message={fieldError(errors, "retry_policy")} />
        </div>
        {problem && (
          <p class="alert" role="alert" id="campaign-error">
            {problem}
          </p>
        )}
        <div class="actions">
          <button type="submit" id="create-campaign" disabled={busy}>
            Create campaign
          </button>
        </div>
      </form>
    </section>
  );
}
