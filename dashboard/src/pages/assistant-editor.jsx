import { useEffect, useRef, useState } from "preact/hooks";

import { ApiError, api } from "../api.js";
import { FORMATS } from "../dialects.js";
import { FIELDS, GROUPS } from "../fields.js";
import { Link, navigate } from "../router.jsx";
import { describe, getPath, loadOpenApi, setPath } from "../schema.js";

const fieldId = (path) => `f-${path.replaceAll(".", "-")}`;

function display(kind, value) {
  if (value === null || value === undefined) return kind === "json" ? "" : "";
  if (kind === "lines") return value.join("\n");
  if (kind === "ids") return value.join(", ");
  if (kind === "json") return JSON.stringify(value, null, 2);
  return String(value);
}

function showDefault(entry, info) {
  if (!info) return "";
  if (info.required) return "none (required)";
  if (entry.kind === "secret") return "none";
  const value = info.default;
  if (value === null || value === undefined) return "none";
  if (Array.isArray(value)) return value.length ? value.join(", ") : "empty";
  if (typeof value === "object") return Object.keys(value).length ? JSON.stringify(value) : "empty";
  if (typeof value === "boolean") return value ? "on" : "off";
  return String(value);
}

/** Text as typed → the JSON value sent; a number that does not parse is sent as typed,
 * so the API's 422 names it. Returns [value, localError]. */
function parse(entry, info, text) {
  const trimmed = text.trim();
  switch (entry.kind) {
    case "number":
      if (trimmed === "") return [info?.nullable ? null : text, null];
      return [Number.isNaN(Number(trimmed)) ? text : Number(trimmed), null];
    case "lines":
      // A list the API lets be null (its default: e.g. the language's own phrases)
      // stays null when left empty, rather than becoming an empty list.
      if (trimmed === "" && info?.nullable) return [null, null];
      return [text.split("\n").map((line) => line.trim()).filter(Boolean), null];
    case "ids":
      return [
        trimmed
          .split(/[\s,]+/)
          .filter(Boolean)
          .map((part) => (/^\d+$/.test(part) ? Number(part) : part)),
        null,
      ];
    case "json":
      if (trimmed === "") return [info?.nullable ? null : info?.default ?? null, null];
      try {
        return [JSON.parse(trimmed), null];
      } catch (error) {
        return [undefined, `not valid JSON: ${error.message}`];
      }
    default:
      return [text === "" && info?.nullable ? null : text, null];
  }
}

function errorFor(errors, path) {
  const messages = Object.entries(errors)
    .filter(([field]) => field === path || field.startsWith(`${path}.`))
    .map(([field, message]) => (field === path ? message : `${field.slice(path.length + 1)}: ${message}`));
  return messages.length ? messages.join("; ") : null;
}

function Field({ entry, info, value, text, error, onText, onValue }) {
  const id = fieldId(entry.path);
  const described = [`${id}-help`, error ? `${id}-error` : null].filter(Boolean).join(" ");
  const common = {
    id,
    name: entry.path,
    "aria-describedby": described,
    "aria-invalid": error ? "true" : undefined,
  };
  let control;
  if (entry.kind === "bool") {
    control = (
      <input type="checkbox" {...common} checked={Boolean(value)} onChange={(event) => onValue(event.currentTarget.checked)} />
    );
  } else if (entry.kind === "select") {
    const choices = info?.choices || [];
    control = (
      <select {...common} value={value ?? ""} onChange={(event) => onValue(event.currentTarget.value || null)}>
        {info?.nullable && <option value="">(none)</option>}
        {choices.map((choice) => (
          <option value={choice}>{choice}</option>
        ))}
      </select>
    );
  } else if (entry.kind === "secret") {
    control = (
      <input
        type="password"
        autocomplete="off"
        {...common}
        value={text ?? ""}
        placeholder={value ? `stored (${value}); type to replace` : "not set"}
        onInput={(event) => onText(event.currentTarget.value)}
      />
    );
  } else if (entry.kind === "textarea" || entry.kind === "lines" || entry.kind === "json") {
    control = (
      <textarea
        {...common}
        rows={entry.kind === "json" ? 4 : 3}
        spellcheck={entry.kind === "json" ? false : undefined}
        class={entry.kind === "json" ? "code" : undefined}
        value={text ?? display(entry.kind, value)}
        onInput={(event) => onText(event.currentTarget.value)}
      />
    );
  } else {
    control = (
      <input
        type="text"
        inputmode={entry.kind === "number" ? "decimal" : undefined}
        {...common}
        value={text ?? display(entry.kind, value)}
        onInput={(event) => onText(event.currentTarget.value)}
      />
    );
  }
  return (
    <div class={`field field-${entry.kind}`} data-field={entry.path} data-invalid={error ? "true" : undefined}>
      <label for={id}>{entry.label}</label>
      {control}
      <p class="help" id={`${id}-help`}>
        {entry.help} <span class="default">Default: {showDefault(entry, info)}</span>
      </p>
      {error && (
        <p class="field-error" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

function newDraft(openapi) {
  const draft = {};
  for (const entry of FIELDS) {
    const info = describe(openapi, entry.path);
    setPath(draft, entry.path, info ? structuredClone(info.default) : null);
  }
  draft.name = "";
  return draft;
}

/** The editor of one assistant (id) or of a new one (no id). */
export function AssistantEditor({ id }) {
  const [openapi, setOpenapi] = useState(null);
  const [draft, setDraft] = useState(null);
  const [stored, setStored] = useState(null);
  const [texts, setTexts] = useState({});
  const [errors, setErrors] = useState({});
  const [problem, setProblem] = useState(null);
  const [status, setStatus] = useState(null);
  const [busy, setBusy] = useState(false);
  const [confirmingDelete, setConfirmingDelete] = useState(false);
  const [exportFormat, setExportFormat] = useState("canonical");
  const form = useRef(null);

  useEffect(() => {
    let live = true;
    Promise.all([loadOpenApi(), id ? api.get(`/api/v1/assistants/${encodeURIComponent(id)}`) : null])
      .then(([schema, assistant]) => {
        if (!live) return;
        setOpenapi(schema);
        setStored(assistant);
        setDraft(assistant ? structuredClone(assistant) : newDraft(schema));
      })
      .catch((error) => live && setProblem(error.message));
    return () => {
      live = false;
    };
  }, [id]);

  // After a refused save, take the keyboard to the first field the API named.
  useEffect(() => {
    const first = form.current?.querySelector("[aria-invalid='true']");
    if (!first) return;
    first.focus({ preventScroll: true });
    first.closest(".field")?.scrollIntoView({ block: "center" });
  }, [errors]);

  if (problem && !draft) {
    return (
      <p class="alert" role="alert">
        {problem}
      </p>
    );
  }
  if (!draft) return <p class="loading">Loading…</p>;

  const infos = Object.fromEntries(FIELDS.map((entry) => [entry.path, describe(openapi, entry.path)]));

  const body = () => {
    const result = {};
    const local = {};
    for (const entry of FIELDS) {
      let value = getPath(draft, entry.path);
      const text = texts[entry.path];
      if (entry.kind === "secret") {
        if (text) value = text;
      } else if (text !== undefined) {
        const [parsed, error] = parse(entry, infos[entry.path], text);
        if (error) local[entry.path] = error;
        value = parsed;
      }
      setPath(result, entry.path, value === undefined ? null : value);
    }
    return [result, local];
  };

  const apply = (assistant, message) => {
    setStored(assistant);
    setDraft(structuredClone(assistant));
    setTexts({});
    setErrors({});
    setProblem(null);
    setStatus(message);
  };

  const fail = (error) => {
    setProblem(error.message);
    setErrors(error instanceof ApiError ? error.fieldErrors() : {});
    setStatus(null);
  };

  const save = async (event) => {
    event.preventDefault();
    const [payload, local] = body();
    if (Object.keys(local).length) {
      setErrors(local);
      setProblem(`invalid value for ${Object.keys(local).join(", ")}`);
      return;
    }
    setBusy(true);
    try {
      if (stored) {
        apply(await api.put(`/api/v1/assistants/${stored.id}`, payload), "Saved.");
      } else {
        const created = await api.post("/api/v1/assistants", payload);
        navigate(`/app/assistants/${created.id}`);
      }
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };

  const act = async (action) => {
    setBusy(true);
    try {
      await action();
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };

  const duplicate = () =>
    act(async () => {
      const copy = await api.post(`/api/v1/assistants/${stored.id}/duplicate`, {
        name: `${stored.name} (copy)`.slice(0, 200),
      });
      navigate(`/app/assistants/${copy.id}`);
    });
  const toggleActive = () =>
    act(async () => {
      const changed = await api.patch(`/api/v1/assistants/${stored.id}`, { is_active: !stored.is_active });
      apply(changed, changed.is_active ? "Activated." : "Deactivated.");
    });
  const remove = () =>
    act(async () => {
      await api.delete(`/api/v1/assistants/${stored.id}`);
      navigate("/app/assistants");
    });

  // The API's own rendering in the chosen dialect, saved as a file (secrets stay masked).
  const exportAs = () =>
    act(async () => {
      const rendered = await api.get(`/api/v1/assistants/${stored.id}`, { format: exportFormat });
      const blob = new Blob([`${JSON.stringify(rendered, null, 2)}\n`], { type: "application/json" });
      const link = window.document.createElement("a");
      link.href = URL.createObjectURL(blob);
      const slug = stored.name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "assistant";
      link.download = `${slug}.${exportFormat}.json`;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 0);
    });

  const unplaced = Object.entries(errors).filter(([field]) => !FIELDS.some((entry) => field === entry.path || field.startsWith(`${entry.path}.`)));

  return (
    <form ref={form} class="editor" id="assistant-editor" onSubmit={save} noValidate>
      <div class="editor-head">
        <div>
          <p class="crumbs">
            <Link href="/app/assistants">Assistants</Link> /
          </p>
          <h1>{stored ? stored.name : "New assistant"}</h1>
          {stored && (
            <p class="meta">
              id {stored.id} · {stored.is_active ? "active" : "inactive"} · updated{" "}
              {new Date(stored.updated_at).toLocaleString()}
            </p>
          )}
        </div>
        <div class="actions">
          {stored && (
            <>
              <span class="export">
                <label for="export-format" class="visually-hidden">
                  Export format
                </label>
                <select id="export-format" value={exportFormat} onChange={(event) => setExportFormat(event.currentTarget.value)}>
                  {FORMATS.map((entry) => (
                    <option value={entry.id}>{entry.label}</option>
                  ))}
                </select>
                <button type="button" class="secondary" id="export" disabled={busy} onClick={exportAs}>
                  Export
                </button>
              </span>
              <Link class="button secondary" id="knowledge" href={`/app/assistants/${stored.id}/knowledge`}>
                Documents
              </Link>
              <Link class="button secondary" id="talk" href={`/app/assistants/${stored.id}/talk`}>
                Talk to it
              </Link>
              <Link class="button secondary" id="versions-link" href={`/app/assistants/${stored.id}/versions`}>
                Versions
              </Link>
              <Link class="button secondary" id="tests-link" href={`/app/assistants/${stored.id}/tests`}>
                Tests
              </Link>
              <button type="button" class="secondary" id="duplicate" disabled={busy} onClick={duplicate}>
                Duplicate
              </button>
              <button type="button" class="secondary" id="toggle-active" disabled={busy} onClick={toggleActive}>
                {stored.is_active ? "Deactivate" : "Activate"}
              </button>
              <button type="button" class="danger" id="delete" disabled={busy} onClick={() => setConfirmingDelete(true)}>
                Delete
              </button>
            </>
          )}
          <button type="submit" id="save" disabled={busy}>
            {stored ? "Save" : "Create"}
          </button>
        </div>
      </div>
      {confirmingDelete && (
        <div class="confirm" role="alertdialog" aria-labelledby="confirm-delete-text">
          <p id="confirm-delete-text">
            Delete <strong>{stored.name}</strong>? Its calls keep their history.
          </p>
          <button type="button" class="danger" id="confirm-delete" disabled={busy} onClick={remove}>
            Delete it
          </button>
          <button type="button" class="secondary" onClick={() => setConfirmingDelete(false)}>
            Cancel
          </button>
        </div>
      )}
      {status && (
        <p class="notice" role="status" id="editor-status">
          {status}
        </p>
      )}
      {problem && (
        <div class="alert" role="alert" id="editor-error">
          <p>{problem}</p>
          {unplaced.length > 0 && (
            <ul>
              {unplaced.map(([field, message]) => (
                <li>
                  <code>{field || "body"}</code>: {message}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      <div class="editor-body">
        <nav class="groups" aria-label="Setting groups">
          {GROUPS.map((group) => {
            const invalid = FIELDS.some((entry) => entry.group === group.id && errorFor(errors, entry.path));
            return (
              <a href={`#group-${group.id}`} data-invalid={invalid ? "true" : undefined}>
                {group.title}
              </a>
            );
          })}
        </nav>
        <div class="group-list">
          {GROUPS.map((group) => (
            <section class="group" id={`group-${group.id}`} aria-labelledby={`group-${group.id}-title`}>
              <h2 id={`group-${group.id}-title`}>{group.title}</h2>
              {group.sections.map((section) => (
                <fieldset>
                  {section.title && <legend>{section.title}</legend>}
                  {section.fields.map((entry) => (
                    <Field
                      entry={entry}
                      info={infos[entry.path]}
                      value={getPath(draft, entry.path)}
                      text={texts[entry.path]}
                      error={errorFor(errors, entry.path)}
                      onText={(text) => setTexts({ ...texts, [entry.path]: text })}
                      onValue={(value) => {
                        const next = structuredClone(draft);
                        setPath(next, entry.path, value);
                        setDraft(next);
                      }}
                    />
                  ))}
                </fieldset>
              ))}
            </section>
          ))}
        </div>
      </div>
    </form>
  );
}
