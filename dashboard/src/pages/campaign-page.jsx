import { useEffect, useState } from "preact/hooks";

import { api } from "../api.js";
import { OUTCOMES, controlsFor, describeRule, isActive, windowText } from "../campaigns.js";
import { dateTime } from "../format.js";
import { Link, navigate } from "../router.jsx";
import { STATUS_BADGE } from "./campaign-list.jsx";
import { ProgressBar } from "./campaign-progress.jsx";
import { Recipients, RecipientsUpload, UploadReport, uploaded } from "./campaign-recipients.jsx";

const POLL_MS = 2000;
const LABELS = { start: "Start", pause: "Pause", resume: "Resume", cancel: "Cancel campaign" };

/** One campaign: its settings, progress (polled while it can change), the controls its
 * status allows, more recipients, and every row's outcome with links to its calls. */
export function CampaignPage({ id }) {
  const base = `/api/v1/campaigns/${encodeURIComponent(id)}`;
  const [campaign, setCampaign] = useState(null);
  const [names, setNames] = useState({ assistant: null, numbers: {} });
  const [upload, setUpload] = useState(() => {
    const handed = uploaded.get(Number(id));
    uploaded.delete(Number(id));
    return handed || null;
  });
  const [error, setError] = useState(null);
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(null);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    let live = true;
    api
      .get(base)
      .then((found) => {
        if (!live) return;
        setCampaign(found);
        setError(null);
      })
      .catch((caught) => live && setError(caught.message));
    return () => {
      live = false;
    };
  }, [base, version]);

  const active = isActive(campaign);
  useEffect(() => {
    if (!active) return undefined;
    const timer = setTimeout(() => setVersion((count) => count + 1), POLL_MS);
    return () => clearTimeout(timer);
  }, [active, version]);

  useEffect(() => {
    if (!campaign) return;
    Promise.all([
      campaign.assistant_id ? api.get(`/api/v1/assistants/${campaign.assistant_id}`).catch(() => null) : null,
      api.get("/api/v1/phone-numbers", { limit: 1000 }).catch(() => []),
    ]).then(([assistant, numbers]) =>
      setNames({ assistant: assistant?.name || null, numbers: Object.fromEntries(numbers.map((number) => [number.id, number.number])) }),
    );
  }, [campaign?.id]);

  const act = async (action) => {
    setBusy(true);
    setProblem(null);
    try {
      setCampaign(await api.post(`${base}/${action}`));
      setConfirming(null);
      setVersion((count) => count + 1);
    } catch (caught) {
      setProblem(caught.message);
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    setBusy(true);
    try {
      await api.delete(base);
      navigate("/app/campaigns");
    } catch (caught) {
      setProblem(caught.message);
      setBusy(false);
    }
  };

  if (error) {
    return (
      <p class="alert" role="alert">
        {error}
      </p>
    );
  }
  if (!campaign) return <p class="loading">Loading…</p>;
  const controls = controlsFor(campaign.status);
  const open = !["completed", "canceled"].includes(campaign.status);
  return (
    <section class="campaign-page">
      <p class="crumbs">
        <Link href="/app/campaigns">Campaigns</Link> /
      </p>
      <div class="title-line">
        <h1>{campaign.name}</h1>
        <span class={`badge ${STATUS_BADGE[campaign.status] || "off"}`} id="campaign-status">
          {campaign.status}
        </span>
      </div>
      <div class="campaign-controls" role="group" aria-label="Campaign controls">
        {controls
          .filter((action) => action !== "cancel")
          .map((action) => (
            <button type="button" id={`${action}-campaign`} disabled={busy} onClick={() => act(action)}>
              {LABELS[action]}
            </button>
          ))}
        {controls.includes("cancel") &&
          (confirming === "cancel" ? (
            <span class="inline-confirm">
              <span>Nobody not yet called will be; calls up finish.</span>
              <button type="button" class="danger" id="confirm-cancel" disabled={busy} onClick={() => act("cancel")}>
                Cancel it
              </button>
              <button type="button" class="secondary" onClick={() => setConfirming(null)}>
                Keep it
              </button>
            </span>
          ) : (
            <button type="button" class="danger" id="cancel-campaign" onClick={() => setConfirming("cancel")}>
              {LABELS.cancel}
            </button>
          ))}
        {!["running", "paused"].includes(campaign.status) &&
          (confirming === "delete" ? (
            <span class="inline-confirm">
              <button type="button" class="danger" id="confirm-delete" disabled={busy} onClick={remove}>
                Delete {campaign.name}
              </button>
              <button type="button" class="secondary" onClick={() => setConfirming(null)}>
                Keep it
              </button>
            </span>
          ) : (
            <button type="button" class="secondary" id="delete-campaign" onClick={() => setConfirming("delete")}>
              Delete
            </button>
          ))}
      </div>
      {problem && (
        <p class="alert" role="alert" id="campaign-problem">
          {problem}
        </p>
      )}
      {upload && <UploadReport result={upload} />}
      <section class="panel" id="campaign-progress-panel" data-status={campaign.status}>
        <h2>Progress</h2>
        <ProgressBar progress={campaign.progress} counts id="campaign-progress" />
      </section>
      <dl class="facts" id="campaign-facts">
        <dt>Assistant</dt>
        <dd>{campaign.assistant_id ? <Link href={`/app/assistants/${campaign.assistant_id}`}>{names.assistant || `#${campaign.assistant_id}`}</Link> : "—"}</dd>
        <dt>Calls from</dt>
        <dd>
          {campaign.phone_number_ids.map((numberId) => (
            <code class="number">{names.numbers[numberId] || `#${numberId}`}</code>
          ))}
        </dd>
        <dt>Calling window</dt>
        <dd id="campaign-window">
          {windowText(campaign.calling_window)}
          <span class="sub">each recipient's local time{campaign.default_timezone ? `; ${campaign.default_timezone} when unknown` : ""}</span>
        </dd>
        <dt>Calls at once</dt>
        <dd id="campaign-concurrency">at most {campaign.max_concurrency}</dd>
        <dt>Retries</dt>
        <dd>
          <ul class="retry-rules" id="campaign-retries">
            {OUTCOMES.map(([outcome, label]) => (
              <li data-outcome={outcome}>
                {label}: {describeRule(campaign.retry_policy[outcome])}
              </li>
            ))}
          </ul>
        </dd>
        <dt>Started</dt>
        <dd>{dateTime(campaign.started_at)}</dd>
        <dt>Finished</dt>
        <dd>{dateTime(campaign.finished_at)}</dd>
      </dl>
      {open && (
        <section class="panel">
          <h2>More recipients</h2>
          <RecipientsUpload
            campaignId={campaign.id}
            onUploaded={(result) => {
              setUpload(result);
              setVersion((count) => count + 1);
            }}
          />
        </section>
      )}
      <Recipients campaignId={campaign.id} version={version} />
    </section>
  );
}
