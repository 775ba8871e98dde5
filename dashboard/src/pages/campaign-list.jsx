import { useEffect, useState } from "preact/hooks";

import { api } from "../api.js";
import { percentSettled } from "../campaigns.js";
import { dateTime } from "../format.js";
import { Pager, pageOf } from "../pager.jsx";
import { Link, navigate, useLocation } from "../router.jsx";
import { ProgressBar } from "./campaign-progress.jsx";

const PAGE_SIZE = 20;

export const STATUS_BADGE = { running: "ok", completed: "ok", paused: "off", draft: "off", canceled: "bad" };

/** The organization's campaigns, newest first, each with its progress. */
export function CampaignList() {
  const { query } = useLocation();
  const page = pageOf(query);
  const [rows, setRows] = useState(null);
  const [more, setMore] = useState(false);
  const [assistants, setAssistants] = useState({});
  const [error, setError] = useState(null);

  useEffect(() => {
    api
      .get("/api/v1/assistants", { limit: 1000 })
      .then((found) => setAssistants(Object.fromEntries(found.map((assistant) => [assistant.id, assistant.name]))))
      .catch((caught) => setError(caught.message));
  }, []);

  useEffect(() => {
    let live = true;
    setError(null);
    api
      .get("/api/v1/campaigns", { skip: (page - 1) * PAGE_SIZE, limit: PAGE_SIZE + 1 })
      .then((found) => {
        if (!live) return;
        setRows(found.slice(0, PAGE_SIZE));
        setMore(found.length > PAGE_SIZE);
      })
      .catch((caught) => live && setError(caught.message));
    return () => {
      live = false;
    };
  }, [page]);

  return (
    <section class="list-page">
      <div class="page-head">
        <h1>Campaigns</h1>
        <div class="actions">
          <Link href="/app/campaigns/do-not-call" class="button secondary" id="do-not-call-link">
            Do-not-call list
          </Link>
          <Link href="/app/campaigns/new" class="button" id="new-campaign">
            New campaign
          </Link>
        </div>
      </div>
      <p class="hint">Batches of outbound calls from your numbers, inside calling windows in each recipient's time zone, with retries.</p>
      {error && (
        <p class="alert" role="alert">
          {error}
        </p>
      )}
      {rows === null && !error && <p class="loading">Loading…</p>}
      {rows && rows.length === 0 && (
        <p class="empty" id="no-campaigns">
          No campaigns yet: create the first one.
        </p>
      )}
      {rows && rows.length > 0 && (
        <table class="rows" id="campaigns">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Assistant</th>
              <th scope="col">Status</th>
              <th scope="col">Progress</th>
              <th scope="col">Completed</th>
              <th scope="col">Failed</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((campaign) => (
              <tr data-id={campaign.id} data-status={campaign.status}>
                <td>
                  <Link href={`/app/campaigns/${campaign.id}`}>{campaign.name}</Link>
                </td>
                <td>{campaign.assistant_id ? assistants[campaign.assistant_id] || `#${campaign.assistant_id}` : "—"}</td>
                <td>
                  <span class={`badge ${STATUS_BADGE[campaign.status] || "off"}`}>{campaign.status}</span>
                </td>
                <td class="progress-cell">
                  <ProgressBar progress={campaign.progress} />
                  <span class="sub">
                    {percentSettled(campaign.progress)}% of {campaign.progress.total}
                    {campaign.progress.in_progress > 0 && `, ${campaign.progress.in_progress} in progress`}
                    {campaign.progress.retrying > 0 && `, ${campaign.progress.retrying} retrying`}
                  </span>
                </td>
                <td>{campaign.progress.completed}</td>
                <td>{campaign.progress.failed}</td>
                <td>{dateTime(campaign.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager page={page} more={more} onPage={(next) => navigate(`/app/campaigns${next > 1 ? `?page=${next}` : ""}`)} />
    </section>
  );
}
