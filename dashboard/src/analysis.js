// How the call page words a post-call analysis (the record's `analysis`), kept pure for
// `node --test`.

/** A success evaluation as read: PassFail's booleans as words, scales as they are. */
export function verdictText(value) {
  if (value === true) return "Passed";
  if (value === false) return "Failed";
  if (value === null || value === undefined) return "—";
  return String(value);
}

/** Structured data as indented JSON ("—" when there is none). */
export function structuredText(value) {
  if (value === null || value === undefined) return "—";
  return JSON.stringify(value, null, 2);
}

const STATES = {
  pending: "Running: the page updates when it is done.",
  completed: "Done.",
  failed: "Done, with an error: the parts that failed are empty.",
  skipped: "Skipped.",
};

/** One line saying where the analysis stands. */
export function analysisState(analysis) {
  if (!analysis) return "This call has not been analysed.";
  return STATES[analysis.status] || analysis.status;
}

/** Whether the page should keep asking for the record (the worker has not settled it). */
export function analysisPending(analysis) {
  return analysis?.status === "pending";
}
