import { useState } from "preact/hooks";

import { ApiError, api, fieldError } from "../api.js";
import { END_REASONS, STEP_KINDS, emptyForm, formErrors, formOf, testBody } from "../assistant-tests.js";

function Problem({ id, message }) {
  if (!message) return null;
  return (
    <p class="field-error" id={id}>
      {message}
    </p>
  );
}

const invalid = (message) => (message ? "true" : undefined);

/** One scripted step: its kind, and the text or seconds the kind takes. */
function StepRow({ index, row, errors, onChange, onRemove }) {
  const at = `caller.steps[${index}]`;
  const message = fieldError(errors, at);
  const set = (name) => (event) => onChange({ ...row, [name]: event.currentTarget.value });
  const takesText = ["say", "interrupt", "dtmf"].includes(row.kind);
  const takesSeconds = ["interrupt", "silence"].includes(row.kind);
  return (
    <li class="step" data-step={index}>
      <select aria-label={`Step ${index + 1}`} value={row.kind} onChange={set("kind")} aria-invalid={invalid(message)}>
        {STEP_KINDS.map(([kind, label]) => (
          <option value={kind}>{label}</option>
        ))}
      </select>
      {takesText && (
        <input
          type="text"
          aria-label={row.kind === "dtmf" ? `Keys of step ${index + 1}` : `Words of step ${index + 1}`}
          placeholder={row.kind === "dtmf" ? "12#" : "What the caller says"}
          value={row.text}
          onInput={set("text")}
          aria-invalid={invalid(message)}
        />
      )}
      {takesSeconds && (
        <input
          type="text"
          inputmode="decimal"
          class="seconds"
          aria-label={row.kind === "silence" ? `Seconds of silence, step ${index + 1}` : `Seconds into the reply, step ${index + 1}`}
          placeholder="seconds"
          value={row.seconds}
          onInput={set("seconds")}
          aria-invalid={invalid(message)}
        />
      )}
      <button type="button" class="secondary" onClick={onRemove}>
        Remove<span class="visually-hidden"> step {index + 1}</span>
      </button>
      <Problem id={`test-step-${index}-error`} message={message} />
    </li>
  );
}

/** A textarea or input field with its label, help and the API's message for `field`. */
function Field({ id, label, field, errors, help, children }) {
  const message = fieldError(errors, field);
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children(invalid(message))}
      {help && <p class="help">{help}</p>}
      <Problem id={`${id}-error`} message={message} />
    </div>
  );
}

/** Create (no `test`) or edit a test; the API's 422 is shown on the fields it names. */
export function TestForm({ base, test, onSaved, onCancel }) {
  const [form, setForm] = useState(() => (test ? formOf(test) : emptyForm()));
  const [errors, setErrors] = useState({});
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (name) => (event) => setForm({ ...form, [name]: event.currentTarget.value });
  const setRows = (name, rows) => setForm({ ...form, [name]: rows });

  const save = async (event) => {
    event.preventDefault();
    const { body, problems } = testBody(form);
    setErrors(problems);
    setProblem(null);
    if (Object.keys(problems).length) {
      setProblem("Some fields are not valid JSON objects.");
      return;
    }
    setBusy(true);
    try {
      const saved = test ? await api.patch(`${base}/tests/${test.id}`, body) : await api.post(`${base}/tests`, body);
      onSaved(saved);
    } catch (caught) {
      setErrors(caught instanceof ApiError ? formErrors(caught.fieldErrors()) : {});
      setProblem(caught.message);
      setBusy(false);
    }
  };

  const area = (id, name, rows = 3) => (bad) => <textarea id={id} rows={rows} value={form[name]} onInput={set(name)} aria-invalid={bad} />;
  const text = (id, name, extra = {}) => (bad) => <input id={id} type="text" value={form[name]} onInput={set(name)} aria-invalid={bad} {...extra} />;
  return (
    <form class="test-form" id="test-form" onSubmit={save} noValidate aria-label={test ? `Edit test ${test.name}` : "New test"}>
      <h2 class="form-title">{test ? `Edit “${test.name}”` : "New test"}</h2>
      {problem && (
        <p class="alert" role="alert" id="test-form-error">
          {problem}
        </p>
      )}
      <Field id="test-name" label="Name" field="name" errors={errors}>
        {text("test-name", "name")}
      </Field>
      <div class="group">
        <h3>The caller</h3>
        <fieldset class="choices" id="test-caller-type">
          <legend>Who calls</legend>
          <label class="inline">
            <input type="radio" name="caller-type" checked={form.callerType === "script"} onChange={() => setForm({ ...form, callerType: "script" })} /> A script
          </label>
          <label class="inline">
            <input type="radio" name="caller-type" checked={form.callerType === "llm"} onChange={() => setForm({ ...form, callerType: "llm" })} /> An LLM playing a caller
          </label>
        </fieldset>
        <Problem id="test-caller-error" message={errors.caller || null} />
        {form.callerType === "script" ? (
          <fieldset id="test-steps">
            <legend>Steps, in order</legend>
            <ol class="steps">
              {form.steps.map((row, index) => (
                <StepRow
                  index={index}
                  row={row}
                  errors={errors}
                  onChange={(changed) => setRows("steps", form.steps.map((old, at) => (at === index ? changed : old)))}
                  onRemove={() => setRows("steps", form.steps.filter((_, at) => at !== index))}
                />
              ))}
            </ol>
            <button type="button" class="secondary" id="add-step" onClick={() => setRows("steps", [...form.steps, { kind: "say", text: "", seconds: "" }])}>
              Add step
            </button>
            <p class="help">“Say” waits for the reply to finish; “Say over the reply” talks over the previous reply that many seconds into it.</p>
            <Problem id="test-steps-error" message={errors["caller.steps"] || null} />
          </fieldset>
        ) : (
          <>
            <Field id="test-persona" label="Persona" field="caller.persona" errors={errors} help="Who the caller is, how they talk.">
              {area("test-persona", "persona")}
            </Field>
            <Field id="test-goal" label="Goal" field="caller.goal" errors={errors} help="The caller hangs up once it is met.">
              {area("test-goal", "goal")}
            </Field>
            <Field id="test-max-turns" label="Max turns" field="caller.max_turns" errors={errors} help="The caller's lines at most (1–30).">
              {text("test-max-turns", "maxTurns", { inputmode: "numeric" })}
            </Field>
          </>
        )}
        <Field id="test-variables" label="Variables (JSON object, optional)" field="caller.variables" errors={errors} help="What the assistant's {{templates}} read.">
          {area("test-variables", "variables", 2)}
        </Field>
      </div>
      <div class="group">
        <h3>What the assistant must do</h3>
        <Problem id="test-expectations-error" message={errors.expectations || null} />
        <Field id="test-must-say" label="Must say (one phrase a line)" field="expectations.must_say" errors={errors}>
          {area("test-must-say", "mustSay")}
        </Field>
        <Field id="test-must-not-say" label="Must not say (one phrase a line)" field="expectations.must_not_say" errors={errors}>
          {area("test-must-not-say", "mustNotSay")}
        </Field>
        <fieldset id="test-tools">
          <legend>Tools it must call</legend>
          {form.tools.map((tool, index) => {
            const message = fieldError(errors, `expectations.tool_calls[${index}]`);
            const change = (name) => (event) => setRows("tools", form.tools.map((old, at) => (at === index ? { ...old, [name]: event.currentTarget.value } : old)));
            return (
              <div class="tool-row" data-tool={index}>
                <input type="text" aria-label={`Tool ${index + 1} name`} placeholder="book_appointment" value={tool.name} onInput={change("name")} aria-invalid={invalid(message)} />
                <textarea rows={2} aria-label={`Tool ${index + 1} arguments (JSON)`} placeholder='{"day": "Tuesday"}' value={tool.arguments} onInput={change("arguments")} aria-invalid={invalid(message)} />
                <button type="button" class="secondary" onClick={() => setRows("tools", form.tools.filter((_, at) => at !== index))}>
                  Remove<span class="visually-hidden"> tool {index + 1}</span>
                </button>
                <Problem id={`test-tool-${index}-error`} message={message} />
              </div>
            );
          })}
          <button type="button" class="secondary" id="add-tool" onClick={() => setRows("tools", [...form.tools, { name: "", arguments: "" }])}>
            Add tool
          </button>
          <p class="help">The arguments given must be among the call's (a subset).</p>
        </fieldset>
        <Field id="test-end-reason" label="End reason" field="expectations.end_reason" errors={errors}>
          {(bad) => (
            <select id="test-end-reason" value={form.endReason} onChange={set("endReason")} aria-invalid={bad}>
              <option value="">Any</option>
              {END_REASONS.map((reason) => (
                <option value={reason}>{reason}</option>
              ))}
            </select>
          )}
        </Field>
        <Field id="test-max-v2v" label="Max voice-to-voice (ms)" field="expectations.max_voice_to_voice_ms" errors={errors} help="No turn may be slower.">
          {text("test-max-v2v", "maxVoiceToVoiceMs", { inputmode: "decimal" })}
        </Field>
        <Field id="test-rubric" label="Rubric (judged by a model)" field="expectations.rubric" errors={errors}>
          {area("test-rubric", "rubric")}
        </Field>
      </div>
      <div class="actions">
        <button type="submit" id="save-test" disabled={busy}>
          {test ? "Save test" : "Create test"}
        </button>
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
