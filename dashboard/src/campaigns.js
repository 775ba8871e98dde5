// What the campaign pages compute from the API's bodies, kept pure for `node --test`:
// the progress bar's segments, which controls a status allows, the recipients upload's
// content type, the retry policy and calling window as the form holds and the API takes.

/** Progress counts in the bar's order (settled first), with their labels. */
export const PROGRESS = [
  ["completed", "Completed"],
  ["failed", "Failed"],
  ["in_progress", "In progress"],
  ["retrying", "Retrying"],
  ["pending", "Pending"],
  ["do_not_call", "Do not call"],
  ["canceled", "Canceled"],
];

// Rows whose fate is decided: nothing more will be placed for them.
const SETTLED = ["completed", "failed", "do_not_call", "canceled"];

/** The non-empty segments of a progress bar 100 units wide: {key, label, count, x, width}. */
export function progressSegments(progress) {
  const total = progress?.total || 0;
  if (!total) return [];
  const segments = [];
  let x = 0;
  for (const [key, label] of PROGRESS) {
    const count = progress[key] || 0;
    if (!count) continue;
    const width = (count / total) * 100;
    segments.push({ key, label, count, x, width });
    x += width;
  }
  return segments;
}

/** Whole percent of rows settled (completed, failed, skipped or canceled). */
export function percentSettled(progress) {
  const total = progress?.total || 0;
  if (!total) return 0;
  const settled = SETTLED.reduce((sum, key) => sum + (progress[key] || 0), 0);
  return Math.floor((settled / total) * 100);
}

// The API's transitions (POST /campaigns/{id}/ACTION), by the campaign's status.
const CONTROLS = {
  draft: ["start", "cancel"],
  running: ["pause", "cancel"],
  paused: ["resume", "cancel"],
  completed: [],
  canceled: [],
};

/** The actions a campaign in `status` can take, in the order the page shows them. */
export function controlsFor(status) {
  return CONTROLS[status] || [];
}

/** Whether the scheduler may still change the campaign (the page keeps polling). */
export function isActive(campaign) {
  if (!campaign) return false;
  if (campaign.status === "running") return true;
  // Paused or canceled: calls already up still end and are recorded.
  return (campaign.progress?.in_progress || 0) > 0;
}

/** The Content-Type of a recipients upload: its extension, else its first character. */
export function recipientsType(fileName, text) {
  const name = (fileName || "").toLowerCase();
  if (name.endsWith(".json")) return "application/json";
  if (name.endsWith(".csv") || name.endsWith(".txt")) return "text/csv";
  const first = (text || "").trimStart()[0];
  return first === "[" || first === "{" ? "application/json" : "text/csv";
}

/** The outcomes a retry policy speaks of, with the API's defaults (seconds). */
export const OUTCOMES = [
  ["busy", "Busy", 2, 600],
  ["no-answer", "No answer", 2, 3600],
  ["failed", "Failed", 1, 600],
  ["voicemail", "Voicemail", 0, 3600],
];

/** The retry form's starting values: retries and minutes between tries, as text. */
export function defaultRetryForm() {
  return Object.fromEntries(
    OUTCOMES.map(([outcome, , retries, seconds]) => [outcome, { retries: String(retries), minutes: String(seconds / 60) }]),
  );
}

// A number the API can judge: the field's text as a number, else the text itself (so
// that the API's 422 names the field, rather than the page guessing).
function numeric(text) {
  const trimmed = String(text).trim();
  return trimmed !== "" && Number.isFinite(Number(trimmed)) ? Number(trimmed) : trimmed;
}

/** The API's retry_policy from the form (minutes → seconds). */
export function retryPolicyBody(form) {
  const policy = {};
  for (const [outcome] of OUTCOMES) {
    const minutes = numeric(form[outcome].minutes);
    policy[outcome] = {
      max_retries: numeric(form[outcome].retries),
      retry_after_seconds: typeof minutes === "number" ? Math.round(minutes * 60) : minutes,
    };
  }
  return policy;
}

/** "2 retries, 10 min apart" / "not retried". */
export function describeRule(rule) {
  if (!rule || !rule.max_retries) return "not retried";
  const minutes = Math.round(rule.retry_after_seconds / 60);
  const wait = minutes % 60 === 0 && minutes >= 60 ? `${minutes / 60} h` : `${minutes} min`;
  return `${rule.max_retries} ${rule.max_retries === 1 ? "retry" : "retries"}, ${wait} apart`;
}

export const DAYS = [
  ["mon", "Mon"],
  ["tue", "Tue"],
  ["wed", "Wed"],
  ["thu", "Thu"],
  ["fri", "Fri"],
  ["sat", "Sat"],
  ["sun", "Sun"],
];

/** "Mon–Fri 09:00–17:00": runs of consecutive days joined by a dash. */
export function windowText(window) {
  if (!window) return "—";
  const order = DAYS.map(([day]) => day);
  const chosen = order.filter((day) => (window.days || []).includes(day));
  const label = Object.fromEntries(DAYS);
  const runs = [];
  for (const day of chosen) {
    const index = order.indexOf(day);
    const last = runs[runs.length - 1];
    if (last && order.indexOf(last[last.length - 1]) === index - 1) last.push(day);
    else runs.push([day]);
  }
  const days = runs
    .map((run) => (run.length > 2 ? `${label[run[0]]}–${label[run[run.length - 1]]}` : run.map((day) => label[day]).join(", ")))
    .join(", ");
  return `${days} ${window.start}–${window.end}`;
}

/** "3 rows added; 2 rejected." */
export function uploadSummary(report) {
  const added = `${report.accepted} ${report.accepted === 1 ? "row" : "rows"} added`;
  const rejected = report.rejected.length;
  return rejected ? `${added}; ${rejected} rejected.` : `${added}.`;
}
