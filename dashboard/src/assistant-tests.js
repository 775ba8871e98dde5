// What the assistant's Tests pages compute, kept pure for `node --test`: the test form
// as it edits a test (GET/POST/PATCH /api/v1/assistants/{id}/tests) and the body it
// sends, the API's 422 fields mapped onto the form's, and how a run and its verdicts
// read (GET …/tests/runs, …/tests/runs/{run_id}).

/** A scripted caller's step kinds: what the form offers, and the API's field. */
export const STEP_KINDS = [
  ["say", "Say"],
  ["interrupt", "Say over the reply"],
  ["dtmf", "Press keys"],
  ["silence", "Stay silent"],
  ["hangup", "Hang up"],
];

/** The call's end reasons an expectation can name (the engine's EndReason). */
export const END_REASONS = [
  "customer-ended-call",
  "assistant-ended-call",
  "assistant-said-end-call-phrase",
  "customer-said-end-call-phrase",
  "silence-timed-out",
  "exceeded-max-duration",
  "voicemail",
  "assistant-forwarded-call",
  "pipeline-error",
  "pipeline-error-llm-failed",
  "transport-dropped",
  "manually-canceled",
];

/** The expectation kinds a verdict names, as the run page labels them. */
export const EXPECTATIONS = {
  must_say: "Must say",
  must_not_say: "Must not say",
  tool_call: "Calls tool",
  end_reason: "Ends with",
  max_voice_to_voice_ms: "Voice-to-voice at most",
  rubric: "Rubric",
};

// A number the API can judge: the text as a number, else the text itself (so that the
// API's 422 names the field, rather than the page guessing).
function numeric(text) {
  const trimmed = String(text ?? "").trim();
  return trimmed !== "" && Number.isFinite(Number(trimmed)) ? Number(trimmed) : trimmed;
}

/** A step of the API as a form row {kind, text, seconds}. */
export function stepRow(step) {
  if (step.say !== undefined && step.say !== null) {
    const over = step.interrupt_after_s !== undefined && step.interrupt_after_s !== null;
    return { kind: over ? "interrupt" : "say", text: step.say, seconds: over ? String(step.interrupt_after_s) : "" };
  }
  if (step.dtmf !== undefined && step.dtmf !== null) return { kind: "dtmf", text: step.dtmf, seconds: "" };
  if (step.silence_s !== undefined && step.silence_s !== null) return { kind: "silence", text: "", seconds: String(step.silence_s) };
  return { kind: "hangup", text: "", seconds: "" };
}

/** A form row as the API's step. */
export function rowStep(row) {
  if (row.kind === "say") return { say: row.text };
  if (row.kind === "interrupt") return { say: row.text, interrupt_after_s: numeric(row.seconds) };
  if (row.kind === "dtmf") return { dtmf: row.text };
  if (row.kind === "silence") return { silence_s: numeric(row.seconds) };
  return { hangup: true };
}

const lines = (text) =>
  String(text || "")
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);

const jsonText = (value) => (value && Object.keys(value).length ? JSON.stringify(value, null, 2) : "");

/** A new test's form: a caller who asks one thing and hangs up. */
export function emptyForm() {
  return {
    name: "",
    callerType: "script",
    steps: [
      { kind: "say", text: "", seconds: "" },
      { kind: "hangup", text: "", seconds: "" },
    ],
    variables: "",
    persona: "",
    goal: "",
    maxTurns: "6",
    callerModel: null,
    mustSay: "",
    mustNotSay: "",
    tools: [],
    endReason: "",
    maxVoiceToVoiceMs: "",
    rubric: "",
    judgeModel: null,
  };
}

/** A stored test as the form edits it (fields the form has no input for kept as they are). */
export function formOf(test) {
  const form = emptyForm();
  const { caller = {}, expectations = {} } = test;
  form.name = test.name || "";
  form.callerType = caller.type === "llm" ? "llm" : "script";
  form.variables = jsonText(caller.variables);
  if (caller.type === "llm") {
    form.persona = caller.persona || "";
    form.goal = caller.goal || "";
    form.maxTurns = caller.max_turns === undefined ? "6" : String(caller.max_turns);
    form.callerModel = caller.model || null;
  } else {
    form.steps = (caller.steps || []).map(stepRow);
  }
  form.mustSay = (expectations.must_say || []).join("\n");
  form.mustNotSay = (expectations.must_not_say || []).join("\n");
  form.tools = (expectations.tool_calls || []).map((tool) => ({ name: tool.name, arguments: jsonText(tool.arguments) }));
  form.endReason = expectations.end_reason || "";
  form.maxVoiceToVoiceMs = expectations.max_voice_to_voice_ms == null ? "" : String(expectations.max_voice_to_voice_ms);
  form.rubric = expectations.rubric || "";
  form.judgeModel = expectations.judge_model || null;
  return form;
}

/** A JSON object typed in a textarea: {value} or {problem} (empty text: an empty object). */
export function jsonObject(text) {
  if (!String(text || "").trim()) return { value: {} };
  try {
    const value = JSON.parse(text);
    if (value && typeof value === "object" && !Array.isArray(value)) return { value };
    return { problem: "must be a JSON object" };
  } catch (error) {
    return { problem: `not JSON: ${error.message}` };
  }
}

/** The API's body for the form: {body, problems}; `problems` names the fields (as the
 * API's 422 would) whose text is not even JSON, and the body is not sent then. */
export function testBody(form) {
  const problems = {};
  const variables = jsonObject(form.variables);
  if (variables.problem) problems["caller.variables"] = variables.problem;
  let caller;
  if (form.callerType === "llm") {
    caller = { type: "llm", persona: form.persona, goal: form.goal, max_turns: numeric(form.maxTurns) };
    if (form.callerModel) caller.model = form.callerModel;
  } else {
    caller = { type: "script", steps: form.steps.map(rowStep) };
  }
  if (variables.value && Object.keys(variables.value).length) caller.variables = variables.value;
  const expectations = {
    must_say: lines(form.mustSay),
    must_not_say: lines(form.mustNotSay),
    tool_calls: form.tools.map((tool, index) => {
      const parsed = jsonObject(tool.arguments);
      if (parsed.problem) problems[`expectations.tool_calls[${index}].arguments`] = parsed.problem;
      return { name: tool.name.trim(), arguments: parsed.value || {} };
    }),
  };
  if (form.endReason) expectations.end_reason = form.endReason;
  if (String(form.maxVoiceToVoiceMs).trim()) expectations.max_voice_to_voice_ms = numeric(form.maxVoiceToVoiceMs);
  if (form.rubric.trim()) {
    expectations.rubric = form.rubric.trim();
    if (form.judgeModel) expectations.judge_model = form.judgeModel;
  }
  return { body: { name: form.name.trim(), caller, expectations }, problems };
}

/** The API's 422 fields (ApiError.fieldErrors()) as the form's: the caller's type tag
 * that pydantic puts in the path ("caller.script.steps[0].say") taken out. */
export function formErrors(byField) {
  const mapped = {};
  for (const [field, message] of Object.entries(byField || {})) {
    const name = field.replace(/^caller\.(script|llm)(?=\.|$)/, "caller");
    mapped[name] = mapped[name] ? `${mapped[name]}; ${message}` : message;
  }
  return mapped;
}

/** A run's 422 (ApiError.fieldErrors()) about its overrides as "field: message" lines,
 * the settings' own paths ("llm_settings.temperature"), with or without the API's
 * "overrides." prefix; the test_ids' errors are not the overrides'. */
export function overrideLines(byField) {
  return Object.entries(byField || {})
    .filter(([field]) => field !== "test_ids" && !field.startsWith("test_ids["))
    .map(([field, message]) => {
      const path = field.replace(/^overrides(\.|$)/, "");
      return path ? `${path}: ${message}` : message;
    });
}

/** One line about who calls: "Script: 3 steps" or "LLM caller, up to 6 turns". */
export function callerText(caller) {
  if (caller?.type === "llm") {
    const turns = caller.max_turns ?? 6;
    return `LLM caller, up to ${turns} ${turns === 1 ? "turn" : "turns"}`;
  }
  const count = caller?.steps?.length || 0;
  return `Script: ${count} ${count === 1 ? "step" : "steps"}`;
}

/** The expectations as short phrases, in the order the verdicts come. */
export function expectationTexts(expectations) {
  const found = [];
  for (const phrase of expectations?.must_say || []) found.push(`says “${phrase}”`);
  for (const phrase of expectations?.must_not_say || []) found.push(`never says “${phrase}”`);
  for (const tool of expectations?.tool_calls || []) found.push(`calls ${tool.name}`);
  if (expectations?.end_reason) found.push(`ends: ${expectations.end_reason}`);
  if (expectations?.max_voice_to_voice_ms) found.push(`≤ ${expectations.max_voice_to_voice_ms} ms voice-to-voice`);
  if (expectations?.rubric) found.push("rubric");
  return found;
}

/** A verdict's target as text: a phrase, a tool with its arguments, a number. */
export function targetText(verdict) {
  const target = verdict.target;
  if (verdict.expectation === "tool_call" && target && typeof target === "object") {
    const args = target.arguments && Object.keys(target.arguments).length ? JSON.stringify(target.arguments) : "";
    return args ? `${target.name} ${args}` : String(target.name);
  }
  if (verdict.expectation === "max_voice_to_voice_ms") return `${target} ms`;
  if (target === null || target === undefined) return "—";
  return typeof target === "string" ? target : JSON.stringify(target);
}

/** Whether the worker may still change the run (the page keeps polling). */
export function isRunActive(run) {
  return Boolean(run) && run.status !== "done";
}

/** A run's outcome in a word: "pending", "running", "passed", "failed". */
export function runOutcome(run) {
  if (!run) return "pending";
  if (run.status !== "done") return run.status;
  return run.passed ? "passed" : "failed";
}

/** "2 of 3 done: 1 passed, 1 failed" (errored counted when any). */
export function progressText(progress) {
  if (!progress) return "";
  const parts = [`${progress.passed} passed`, `${progress.failed} failed`];
  if (progress.errored) parts.push(`${progress.errored} errored`);
  return `${progress.done} of ${progress.total} done: ${parts.join(", ")}`;
}

// The progress bar's segments in order: settled first.
const SEGMENTS = [
  ["passed", "Passed"],
  ["failed", "Failed"],
  ["errored", "Errored"],
  ["running", "Running"],
  ["pending", "Pending"],
];

/** The non-empty segments of a bar 100 units wide: {key, label, count, x, width}. */
export function runSegments(progress) {
  const total = progress?.total || 0;
  if (!total) return [];
  const segments = [];
  let x = 0;
  for (const [key, label] of SEGMENTS) {
    const count = progress[key] || 0;
    if (!count) continue;
    const width = (count / total) * 100;
    segments.push({ key, label, count, x, width });
    x += width;
  }
  return segments;
}

/** The slowest turn's voice-to-voice latency (ms), or null when no turn measured one. */
export function slowestTurn(timings) {
  const measured = (timings || []).map((turn) => turn.voice_to_voice_ms).filter((value) => typeof value === "number");
  return measured.length ? Math.max(...measured) : null;
}
