import { useEffect, useState } from "preact/hooks";

import { api } from "../api.js";
import { dateTime } from "../format.js";

const EMPTY = { name: "", description: "", parameters: '{\n  "type": "object",\n  "properties": {}\n}', url: "", isAsync: false };

// Form fields → the API's dotted field names, for its 422 details.
const FIELD_PATHS = {
  name: "function.name",
  description: "function.description",
  parameters: "function.parameters",
  url: "server.url",
};

/** The organization's stored function tools (Vapi shape), referenced by assistants'
 * tool_ids: create, list, delete. */
export function Tools() {
  const [tools, setTools] = useState(null);
  const [form, setForm] = useState(EMPTY);
  const [errors, setErrors] = useState({});
  const [problem, setProblem] = useState(null);
  const [confirming, setConfirming] = useState(null);
  const [busy, setBusy] = useState(false);

  const load = () =>
    api
      .get("/api/v1/tools")
      .then(setTools)
      .catch((caught) => setProblem(caught.message));
  useEffect(() => {
    load();
  }, []);

  const errorFor = (field) => {
    const path = FIELD_PATHS[field];
    const messages = Object.entries(errors)
      .filter(([name]) => name === path || name.startsWith(`${path}.`))
      .map(([, message]) => message);
    return messages.length ? messages.join("; ") : null;
  };

  const create = async (event) => {
    event.preventDefault();
    setProblem(null);
    setErrors({});
    let parameters;
    try {
      parameters = form.parameters.trim() ? JSON.parse(form.parameters) : undefined;
    } catch (error) {
      setErrors({ "function.parameters": `not valid JSON: ${error.message}` });
      setProblem("invalid value for function.parameters");
      return;
    }
    const body = {
      type: "function",
      function: { name: form.name, description: form.description || undefined, parameters },
      server: { url: form.url },
      async: form.isAsync,
    };
    setBusy(true);
    try {
      await api.post("/api/v1/tools", body);
      setForm(EMPTY);
      await load();
    } catch (caught) {
      setProblem(caught.message);
      setErrors(caught.fieldErrors?.() || {});
    } finally {
      setBusy(false);
    }
  };

  const remove = async (tool) => {
    setBusy(true);
    try {
      await api.delete(`/api/v1/tools/${tool.id}`);
      setConfirming(null);
      await load();
    } catch (caught) {
      setProblem(caught.message);
    } finally {
      setBusy(false);
    }
  };

  const input = (field, label, help, props = {}) => {
    const error = errorFor(field);
    const Tag = props.rows ? "textarea" : "input";
    return (
      <div class={`field ${props.rows ? "field-json" : ""}`}>
        <label for={`tool-${field}`}>{label}</label>
        <Tag
          id={`tool-${field}`}
          type={props.rows ? undefined : "text"}
          class={props.rows ? "code" : undefined}
          rows={props.rows}
          spellcheck={props.rows ? false : undefined}
          value={form[field]}
          aria-invalid={error ? "true" : undefined}
          aria-describedby={`tool-${field}-help${error ? ` tool-${field}-error` : ""}`}
          onInput={(event) => setForm({ ...form, [field]: event.currentTarget.value })}
        />
        <p class="help" id={`tool-${field}-help`}>
          {help}
        </p>
        {error && (
          <p class="field-error" id={`tool-${field}-error`}>
            {error}
          </p>
        )}
      </div>
    );
  };

  return (
    <section class="list-page">
      <div class="page-head">
        <h1>Tools</h1>
      </div>
      <p class="hint">Function tools the model may call; an assistant uses them by id (its “Stored tools”).</p>
      <form class="panel credential-form" onSubmit={create} noValidate aria-label="Create a tool">
        {input("name", "Function name", "What the model calls, such as book_table.")}
        {input("url", "Server URL", "Receives the signed call with the arguments; its answer goes to the model.")}
        {input("description", "Description", "Tells the model when to call it.")}
        <div class="field field-bool">
          <label for="tool-async">Asynchronous</label>
          <input id="tool-async" type="checkbox" checked={form.isAsync} onChange={(event) => setForm({ ...form, isAsync: event.currentTarget.checked })} />
          <p class="help">The call goes on without waiting for the answer.</p>
        </div>
        {input("parameters", "Parameters", "A JSON Schema of the arguments.", { rows: 5 })}
        <div class="actions">
          <button type="submit" id="create-tool" disabled={busy}>
            Create tool
          </button>
        </div>
      </form>
      {problem && (
        <p class="alert" role="alert" id="tools-error">
          {problem}
        </p>
      )}
      {tools && tools.length === 0 && (
        <p class="empty" id="no-tools">
          No tools yet.
        </p>
      )}
      {tools && tools.length > 0 && (
        <table class="rows" id="tools">
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">Function</th>
              <th scope="col">Server</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tools.map((tool) => (
              <tr data-id={tool.id}>
                <td>{tool.id}</td>
                <td>
                  <code>{tool.function.name}</code>
                  {tool.async && <span class="badge off">async</span>}
                  {tool.function.description && <span class="sub">{tool.function.description}</span>}
                </td>
                <td>{tool.server?.url}</td>
                <td>{dateTime(tool.created_at)}</td>
                <td>
                  {confirming === tool.id ? (
                    <span class="inline-confirm">
                      <button type="button" class="danger" disabled={busy} onClick={() => remove(tool)}>
                        Delete {tool.function.name}
                      </button>
                      <button type="button" class="secondary" onClick={() => setConfirming(null)}>
                        Cancel
                      </button>
                    </span>
                  ) : (
                    <button type="button" class="secondary" aria-label={`Delete the tool ${tool.function.name}`} onClick={() => setConfirming(tool.id)}>
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
