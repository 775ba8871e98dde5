// The API client's pure helpers, run by `node --test`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { fieldError } from "../src/api.js";

test("a field's 422 messages, its children's named by their rest", () => {
  const errors = {
    name: "String should have at least 1 character",
    "retry_policy.busy.retry_after_seconds": "Input should be greater than or equal to 60",
    "retry_policy.failed.max_retries": "Input should be less than or equal to 10",
    names: "not this one",
  };
  assert.equal(fieldError(errors, "name"), "String should have at least 1 character");
  assert.equal(
    fieldError(errors, "retry_policy"),
    "busy.retry_after_seconds: Input should be greater than or equal to 60; failed.max_retries: Input should be less than or equal to 10",
  );
  assert.equal(fieldError(errors, "assistant_id"), null);
});
