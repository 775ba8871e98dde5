import { useState } from "preact/hooks";

import { api } from "../api.js";

/** The organization's signing secret: hidden until revealed, rotated after a confirmation.
 * Receivers of webhooks, tool calls and end-call requests verify signatures with it. */
function SigningSecret() {
  const [secret, setSecret] = useState(null);
  const [confirming, setConfirming] = useState(false);
  const [status, setStatus] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  const run = async (action, message) => {
    setBusy(true);
    setError(null);
    try {
      setSecret(await action());
      setStatus(message);
      setConfirming(false);
    } catch (caught) {
      setError(caught.message);
    } finally {
      setBusy(false);
    }
  };
  const reveal = () => run(() => api.get("/api/v1/organization/signing-secret"), null);
  const rotate = () =>
    run(() => api.post("/api/v1/organization/signing-secret/rotate"), "Rotated: everything sent from now on is signed with the new secret.");

  return (
    <section class="panel" aria-labelledby="signing-title">
      <h2 id="signing-title">Signing secret</h2>
      <p class="hint">
        Webhooks, tool calls and end-call requests carry an HMAC-SHA256 signature made with this secret; receivers verify
        it.
      </p>
      {secret ? (
        <dl class="facts" id="signing-secret">
          <dt>Secret</dt>
          <dd>
            <code class="secret" id="signing-secret-value">
              {secret.signing_secret}
            </code>
          </dd>
          <dt>Source</dt>
          <dd>{secret.source === "rotated" ? "rotated" : "derived from the server's key (never rotated)"}</dd>
          <dt>Signature</dt>
          <dd>
            {secret.algorithm} of <code>{secret.signed_content}</code> in <code>{secret.signature_header}</code>, the time in{" "}
            <code>{secret.timestamp_header}</code>
          </dd>
        </dl>
      ) : (
        <button type="button" class="secondary" id="reveal-secret" disabled={busy} onClick={reveal}>
          Reveal the secret
        </button>
      )}
      {status && (
        <p class="notice" role="status" id="signing-status">
          {status}
        </p>
      )}
      {error && (
        <p class="alert" role="alert">
          {error}
        </p>
      )}
      <div class="actions">
        {confirming ? (
          <span class="inline-confirm">
            <span>Receivers must get the new secret, or they will refuse what is signed with it.</span>
            <button type="button" class="danger" id="confirm-rotate" disabled={busy} onClick={rotate}>
              Rotate now
            </button>
            <button type="button" class="secondary" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </span>
        ) : (
          <button type="button" class="secondary" id="rotate-secret" onClick={() => setConfirming(true)}>
            Rotate…
          </button>
        )}
      </div>
    </section>
  );
}

export function Settings() {
  return (
    <section class="settings">
      <h1>Settings</h1>
      <SigningSecret />
    </section>
  );
}
