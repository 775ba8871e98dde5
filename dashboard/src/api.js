// The public API, as the dashboard uses it: the auth-token cookie set by /auth/login,
// and on every write the X-CSRF-Token header echoing the csrf-token cookie. Errors are
// the API's own body ({error, code, details}), kept whole so pages can show them.

const CSRF_COOKIE = "csrf-token";
const READS = new Set(["GET", "HEAD"]);

/** An error answered by the API (or the network failing), with its body. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error || `request failed (${status})`);
    this.status = status;
    this.code = body?.code || "error";
    this.details = Array.isArray(body?.details) ? body.details : [];
  }

  /** The 422 details as {dotted.field: message}. */
  fieldErrors() {
    const byField = {};
    for (const detail of this.details) {
      const field = detail.field || "";
      byField[field] = byField[field] ? `${byField[field]}; ${detail.message}` : detail.message;
    }
    return byField;
  }
}

/** The messages of `errors` (ApiError.fieldErrors()) under `field`: its own, and its
 * dotted children's prefixed by their rest ("busy.max_retries: …"); null when none. */
export function fieldError(errors, field) {
  const messages = Object.entries(errors)
    .filter(([name]) => name === field || name.startsWith(`${field}.`))
    .map(([name, message]) => (name === field ? message : `${name.slice(field.length + 1)}: ${message}`));
  return messages.length ? messages.join("; ") : null;
}

function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(value.join("="));
  }
  return "";
}

/** One request; resolves to the parsed body (null for 204), rejects with ApiError.
 * `body` is sent as JSON; `raw` as it is, with its `contentType` (a CSV upload). */
export async function request(method, path, { body, query, raw, contentType } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json" };
  if (!READS.has(method)) headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (raw !== undefined) headers["Content-Type"] = contentType;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, { error: `the server cannot be reached: ${error.message}` });
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { error: text.slice(0, 200) };
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

/** A file as multipart (`field`), reporting upload progress as a 0–1 fraction; fetch
 * cannot report it, XMLHttpRequest can. Resolves to the body, rejects with ApiError. */
export function upload(path, field, file, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", new URL(path, window.location.origin));
    request.setRequestHeader("Accept", "application/json");
    request.setRequestHeader("X-CSRF-Token", csrfToken());
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onerror = () => reject(new ApiError(0, { error: "the server cannot be reached" }));
    request.onload = () => {
      let parsed = null;
      try {
        parsed = request.responseText ? JSON.parse(request.responseText) : null;
      } catch {
        parsed = { error: request.responseText.slice(0, 200) };
      }
      if (request.status >= 200 && request.status < 300) resolve(parsed);
      else reject(new ApiError(request.status, parsed));
    };
    const form = new FormData();
    form.append(field, file, file.name);
    request.send(form);
  });
}

export const api = {
  get: (path, query) => request("GET", path, { query }),
  post: (path, body, query) => request("POST", path, { body, query }),
  put: (path, body) => request("PUT", path, { body }),
  patch: (path, body) => request("PATCH", path, { body }),
  delete: (path) => request("DELETE", path),
  /** `text` POSTed as it is, labelled `contentType`. */
  send: (path, text, contentType) => request("POST", path, { raw: text, contentType }),
};
