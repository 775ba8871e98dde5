// The call page's analysis wording, run by `node --test`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { analysisPending, analysisState, structuredText, verdictText } from "../src/analysis.js";

test("verdicts read as words, scales as they are", () => {
  assert.equal(verdictText(true), "Passed");
  assert.equal(verdictText(false), "Failed");
  assert.equal(verdictText(0), "0");
  assert.equal(verdictText(7), "7");
  assert.equal(verdictText("Good"), "Good");
  assert.equal(verdictText(null), "—");
  assert.equal(verdictText(undefined), "—");
});

test("structured data is indented JSON, a falsy value kept", () => {
  assert.equal(structuredText({ topic: "delivery" }), '{\n  "topic": "delivery"\n}');
  assert.equal(structuredText(false), "false");
  assert.equal(structuredText(0), "0");
  assert.equal(structuredText(null), "—");
});

test("the state line and whether to keep polling", () => {
  assert.equal(analysisState(null), "This call has not been analysed.");
  assert.match(analysisState({ status: "pending" }), /^Running/);
  assert.equal(analysisState({ status: "completed" }), "Done.");
  assert.equal(analysisState({ status: "novel" }), "novel");
  assert.equal(analysisPending({ status: "pending" }), true);
  assert.equal(analysisPending({ status: "failed" }), false);
  assert.equal(analysisPending(null), false);
});
