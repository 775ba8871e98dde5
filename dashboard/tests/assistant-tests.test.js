// The Tests pages' pure helpers, run by `node --test`.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  callerText,
  emptyForm,
  expectationTexts,
  formErrors,
  formOf,
  isRunActive,
  jsonObject,
  overrideLines,
  progressText,
  rowStep,
  runOutcome,
  runSegments,
  slowestTurn,
  stepRow,
  targetText,
  testBody,
} from "../src/assistant-tests.js";

const SCRIPTED = {
  id: 3,
  name: "hours",
  caller: {
    type: "script",
    variables: { name: "Ada" },
    steps: [{ say: "When are you open?" }, { say: "And Sunday?", interrupt_after_s: 0.5 }, { dtmf: "12#" }, { silence_s: 3 }, { hangup: true }],
  },
  expectations: {
    must_say: ["nine", "five"],
    must_not_say: ["dollars"],
    tool_calls: [{ name: "book", arguments: { day: "Tuesday" } }],
    end_reason: "customer-ended-call",
    max_voice_to_voice_ms: 1500,
    rubric: "Polite.",
    judge_model: { provider: "openai", model: "gpt-4o-mini" },
  },
};

test("every step kind goes to a row and back unchanged", () => {
  for (const step of SCRIPTED.caller.steps) assert.deepEqual(rowStep(stepRow(step)), step);
  assert.deepEqual(stepRow({ say: "Hi", interrupt_after_s: 0 }), { kind: "interrupt", text: "Hi", seconds: "0" });
});

test("a stored test round-trips through the form to the same body", () => {
  const { body, problems } = testBody(formOf(SCRIPTED));
  assert.deepEqual(problems, {});
  assert.deepEqual(body, { name: SCRIPTED.name, caller: SCRIPTED.caller, expectations: SCRIPTED.expectations });
});

test("an LLM caller keeps its model; an unset rubric drops the judge", () => {
  const stored = {
    name: "llm",
    caller: { type: "llm", persona: "A busy parent", goal: "Book Tuesday", max_turns: 4, model: { provider: "local" } },
    expectations: { must_say: [], must_not_say: [], tool_calls: [], rubric: "Kind.", judge_model: { provider: "groq" } },
  };
  const form = formOf(stored);
  assert.equal(form.callerType, "llm");
  assert.equal(form.maxTurns, "4");
  assert.deepEqual(testBody(form).body, stored);
  form.rubric = "  ";
  form.mustSay = " nine \n\n five ";
  assert.deepEqual(testBody(form).body.expectations, { must_say: ["nine", "five"], must_not_say: [], tool_calls: [] });
});

test("numbers go as numbers, anything else as typed for the API to name", () => {
  const form = emptyForm();
  form.name = " x ";
  form.steps = [{ kind: "silence", text: "", seconds: "2.5" }, { kind: "interrupt", text: "Hey", seconds: "soon" }];
  form.maxVoiceToVoiceMs = "-5";
  const { body } = testBody(form);
  assert.equal(body.name, "x");
  assert.deepEqual(body.caller, { type: "script", steps: [{ silence_s: 2.5 }, { say: "Hey", interrupt_after_s: "soon" }] });
  assert.equal(body.expectations.max_voice_to_voice_ms, -5);
  assert.equal("end_reason" in body.expectations, false);
});

test("text that is not a JSON object is named on its field and not sent", () => {
  const form = emptyForm();
  form.variables = "[1]";
  form.tools = [{ name: "book", arguments: "{day" }];
  const { problems } = testBody(form);
  assert.equal(problems["caller.variables"], "must be a JSON object");
  assert.match(problems["expectations.tool_calls[0].arguments"], /^not JSON/);
});

test("the API's fields lose the caller's type tag", () => {
  assert.deepEqual(
    formErrors({
      "caller.script.steps[0].say": "too short",
      "caller.llm.max_turns": "at most 30",
      "caller.llm": "bad",
      "expectations.max_voice_to_voice_ms": "greater than 0",
      name: "required",
    }),
    {
      "caller.steps[0].say": "too short",
      "caller.max_turns": "at most 30",
      caller: "bad",
      "expectations.max_voice_to_voice_ms": "greater than 0",
      name: "required",
    },
  );
});

test("callers and expectations read as one line each", () => {
  assert.equal(callerText(SCRIPTED.caller), "Script: 5 steps");
  assert.equal(callerText({ type: "script", steps: [{ hangup: true }] }), "Script: 1 step");
  assert.equal(callerText({ type: "llm", max_turns: 1 }), "LLM caller, up to 1 turn");
  assert.deepEqual(expectationTexts(SCRIPTED.expectations), [
    "says “nine”",
    "says “five”",
    "never says “dollars”",
    "calls book",
    "ends: customer-ended-call",
    "≤ 1500 ms voice-to-voice",
    "rubric",
  ]);
});

test("verdict targets read as text", () => {
  assert.equal(targetText({ expectation: "must_say", target: "nine" }), "nine");
  assert.equal(targetText({ expectation: "tool_call", target: { name: "book", arguments: { day: "Tue" } } }), 'book {"day":"Tue"}');
  assert.equal(targetText({ expectation: "tool_call", target: { name: "book", arguments: {} } }), "book");
  assert.equal(targetText({ expectation: "max_voice_to_voice_ms", target: 1500 }), "1500 ms");
  assert.equal(targetText({ expectation: "end_reason", target: null }), "—");
});

test("a run's outcome, progress and bar", () => {
  const progress = { total: 4, pending: 1, running: 1, done: 2, passed: 1, failed: 1, errored: 0 };
  assert.equal(isRunActive({ status: "running" }), true);
  assert.equal(isRunActive({ status: "done" }), false);
  assert.equal(isRunActive(null), false);
  assert.equal(runOutcome({ status: "running", passed: null }), "running");
  assert.equal(runOutcome({ status: "done", passed: true }), "passed");
  assert.equal(runOutcome({ status: "done", passed: false }), "failed");
  assert.equal(progressText(progress), "2 of 4 done: 1 passed, 1 failed");
  assert.equal(progressText({ ...progress, errored: 1 }), "2 of 4 done: 1 passed, 1 failed, 1 errored");
  assert.deepEqual(
    runSegments(progress).map(({ key, x, width }) => [key, x, width]),
    [
      ["passed", 0, 25],
      ["failed", 25, 25],
      ["running", 50, 25],
      ["pending", 75, 25],
    ],
  );
  assert.deepEqual(runSegments({ total: 0 }), []);
});

test("the slowest turn, ignoring turns without a measure", () => {
  assert.equal(slowestTurn([{ voice_to_voice_ms: 640 }, { voice_to_voice_ms: null }, { voice_to_voice_ms: 910.5 }]), 910.5);
  assert.equal(slowestTurn([{}]), null);
  assert.equal(slowestTurn(undefined), null);
});

test("a run's overrides: a JSON object, and its 422 lines by setting", () => {
  assert.deepEqual(jsonObject(""), { value: {} });
  assert.deepEqual(jsonObject('{"llm_provider": "groq"}'), { value: { llm_provider: "groq" } });
  assert.equal(jsonObject("3").problem, "must be a JSON object");
  assert.deepEqual(
    overrideLines({
      "llm_settings.temperature": "at most 2",
      "overrides.tools_settings.custom_tools[0].url": "refused",
      overrides: "bad",
      test_ids: "unknown test id 9",
    }),
    ["llm_settings.temperature: at most 2", "tools_settings.custom_tools[0].url: refused", "bad"],
  );
});
