import { useState } from "preact/hooks";

import { api } from "../api.js";
import { FORMATS } from "../dialects.js";
import { Link, navigate } from "../router.jsx";

/** An assistant from a JSON document in any of the API's dialects
 * (POST /api/v1/assistants/import?format=); the API's 422 details listed as they come. */
export function AssistantImport() {
  const [format, setFormat] = useState("canonical");
  const [text, setText] = useState("");
  const [problem, setProblem] = useState(null);
  const [details, setDetails] = useState([]);
  const [busy, setBusy] = useState(false);

  const readFile = async (event) => {
    const file = event.currentTarget.files?.[0];
    if (file) setText(await file.text());
  };

  const submit = async (event) => {
    event.preventDefault();
    setProblem(null);
    setDetails([]);
    let body;
    try {
      body = JSON.parse(text);
    } catch (error) {
      setProblem(`The document is not valid JSON: ${error.message}`);
      return;
    }
    setBusy(true);
    try {
      const created = await api.post("/api/v1/assistants/import", body, { format });
      navigate(`/app/assistants/${created.id}`);
    } catch (error) {
      setProblem(error.message);
      setDetails(error.details || []);
      setBusy(false);
    }
  };

  return (
    <form class="import" onSubmit={submit} aria-labelledby="import-title">
      <p class="crumbs">
        <Link href="/app/assistants">Assistants</Link> /
      </p>
      <h1 id="import-title">Import an assistant</h1>
      <p class="hint">
        Paste or choose a JSON document exported from callwright or written in another vendor's
        shape. Secrets shown masked in an export are not imported: give them again.
      </p>
      <label for="import-format">Format</label>
      <select id="import-format" value={format} onChange={(event) => setFormat(event.currentTarget.value)}>
        {FORMATS.map((entry) => (
          <option value={entry.id}>{entry.label}</option>
        ))}
      </select>
      <label for="import-file">File</label>
      <input id="import-file" type="file" accept="application/json,.json" onChange={readFile} />
      <label for="import-document">Document</label>
      <textarea
        id="import-document"
        class="code"
        rows={16}
        spellcheck={false}
        required
        value={text}
        onInput={(event) => setText(event.currentTarget.value)}
      />
      {problem && (
        <div class="alert" role="alert" id="import-error">
          <p>{problem}</p>
          {details.length > 0 && (
            <ul>
              {details.map((detail) => (
                <li>
                  <code>{detail.field || "body"}</code>: {detail.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      <div class="actions">
        <button type="submit" id="import" disabled={busy}>
          Import
        </button>
      </div>
    </form>
  );
}
