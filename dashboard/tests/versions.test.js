// The Versions page's wording, run by `node --test`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { actionText, authorText, changeLines } from "../src/versions.js";

test("each action reads as what happened", () => {
  assert.equal(actionText({ action: "create" }), "Created");
  assert.equal(actionText({ action: "update" }), "Updated");
  assert.equal(actionText({ action: "restore", restored_from: 3 }), "Restored from version 3");
  assert.equal(actionText({ action: "restore", restored_from: null }), "Restored");
});

test("the author: the user, and the key or the dashboard", () => {
  assert.equal(authorText({ user_id: 1, api_key_id: 4, auth_method: "api_key" }), "user #1 with API key #4");
  assert.equal(authorText({ user_id: 2, api_key_id: null, auth_method: "session" }), "user #2 with the dashboard");
  assert.equal(authorText({ user_id: null, api_key_id: 9, auth_method: "api_key" }), "API key #9");
  assert.equal(authorText({ user_id: null, api_key_id: null, auth_method: null }), "—");
  assert.equal(authorText(undefined), "—");
});

test("changed paths are marked by kind and cut at the limit", () => {
  const changes = [
    { path: "name", change: "changed" },
    { path: "llm_settings.temperature", change: "added" },
    { path: "webhook_url", change: "removed" },
  ];
  assert.deepEqual(changeLines(changes), { lines: ["~ name", "+ llm_settings.temperature", "− webhook_url"], more: 0 });
  assert.deepEqual(changeLines(changes, 1), { lines: ["~ name"], more: 2 });
  assert.deepEqual(changeLines([]), { lines: [], more: 0 });
});
