// The campaign pages' pure helpers, run by `node --test`.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  controlsFor,
  defaultRetryForm,
  describeRule,
  isActive,
  percentSettled,
  progressSegments,
  recipientsType,
  retryPolicyBody,
  uploadSummary,
  windowText,
} from "../src/campaigns.js";

const progress = {
  total: 8,
  pending: 2,
  in_progress: 1,
  retrying: 1,
  completed: 3,
  failed: 1,
  do_not_call: 0,
  canceled: 0,
};

test("the bar's segments follow each other and fill the width, empty ones left out", () => {
  const segments = progressSegments(progress);
  assert.deepEqual(
    segments.map(({ key, count }) => [key, count]),
    [
      ["completed", 3],
      ["failed", 1],
      ["in_progress", 1],
      ["retrying", 1],
      ["pending", 2],
    ],
  );
  assert.equal(segments[0].x, 0);
  for (let index = 1; index < segments.length; index += 1) {
    const before = segments[index - 1];
    assert.equal(segments[index].x, before.x + before.width);
  }
  const last = segments[segments.length - 1];
  assert.equal(last.x + last.width, 100);
});

test("no rows: no segments and nothing settled", () => {
  assert.deepEqual(progressSegments({ total: 0 }), []);
  assert.deepEqual(progressSegments(undefined), []);
  assert.equal(percentSettled({ total: 0 }), 0);
});

test("settled counts completed, failed, skipped and canceled rows, rounded down", () => {
  assert.equal(percentSettled(progress), 50);
  assert.equal(percentSettled({ total: 3, completed: 2 }), 66);
  assert.equal(percentSettled({ total: 2, do_not_call: 1, canceled: 1 }), 100);
});

test("each status offers the API's transitions from it", () => {
  assert.deepEqual(controlsFor("draft"), ["start", "cancel"]);
  assert.deepEqual(controlsFor("running"), ["pause", "cancel"]);
  assert.deepEqual(controlsFor("paused"), ["resume", "cancel"]);
  assert.deepEqual(controlsFor("completed"), []);
  assert.deepEqual(controlsFor("canceled"), []);
  assert.deepEqual(controlsFor("something new"), []);
});

test("a campaign is watched while it runs or has calls up", () => {
  assert.equal(isActive({ status: "running", progress: { in_progress: 0 } }), true);
  assert.equal(isActive({ status: "paused", progress: { in_progress: 2 } }), true);
  assert.equal(isActive({ status: "paused", progress: { in_progress: 0 } }), false);
  assert.equal(isActive({ status: "draft", progress: {} }), false);
  assert.equal(isActive(null), false);
});

test("an upload's type comes from its extension, else from its first character", () => {
  assert.equal(recipientsType("people.CSV", "[]"), "text/csv");
  assert.equal(recipientsType("people.json", "number\n"), "application/json");
  assert.equal(recipientsType("export", '  [{"number": "+14155550100"}]'), "application/json");
  assert.equal(recipientsType("export", "number,first_name\n"), "text/csv");
  assert.equal(recipientsType("", ""), "text/csv");
});

test("the retry form starts at the API's defaults and is sent in seconds", () => {
  const form = defaultRetryForm();
  assert.deepEqual(form.busy, { retries: "2", minutes: "10" });
  assert.deepEqual(retryPolicyBody(form), {
    busy: { max_retries: 2, retry_after_seconds: 600 },
    "no-answer": { max_retries: 2, retry_after_seconds: 3600 },
    failed: { max_retries: 1, retry_after_seconds: 600 },
    voicemail: { max_retries: 0, retry_after_seconds: 3600 },
  });
});

test("what is not a number is sent as typed, for the API to name", () => {
  const form = { ...defaultRetryForm(), busy: { retries: "two", minutes: "" } };
  assert.deepEqual(retryPolicyBody(form).busy, { max_retries: "two", retry_after_seconds: "" });
  const half = { ...defaultRetryForm(), failed: { retries: " 3 ", minutes: "1.5" } };
  assert.deepEqual(retryPolicyBody(half).failed, { max_retries: 3, retry_after_seconds: 90 });
});

test("a rule reads as retries and the wait between them", () => {
  assert.equal(describeRule({ max_retries: 0, retry_after_seconds: 3600 }), "not retried");
  assert.equal(describeRule({ max_retries: 1, retry_after_seconds: 600 }), "1 retry, 10 min apart");
  assert.equal(describeRule({ max_retries: 2, retry_after_seconds: 7200 }), "2 retries, 2 h apart");
  assert.equal(describeRule({ max_retries: 2, retry_after_seconds: 90 * 60 }), "2 retries, 90 min apart");
  assert.equal(describeRule(undefined), "not retried");
});

test("a window's days read as runs", () => {
  assert.equal(windowText({ days: ["mon", "tue", "wed", "thu", "fri"], start: "09:00", end: "17:00" }), "Mon–Fri 09:00–17:00");
  assert.equal(windowText({ days: ["sat", "mon", "sun"], start: "10:00", end: "12:30" }), "Mon, Sat, Sun 10:00–12:30");
  assert.equal(windowText({ days: ["mon", "tue", "thu", "fri", "sat"], start: "08:00", end: "20:00" }), "Mon, Tue, Thu–Sat 08:00–20:00");
  assert.equal(windowText(null), "—");
});

test("an upload's report in a sentence", () => {
  assert.equal(uploadSummary({ accepted: 1, rejected: [] }), "1 row added.");
  assert.equal(uploadSummary({ accepted: 3, rejected: [{ row: 2 }, { row: 4 }] }), "3 rows added; 2 rejected.");
});
