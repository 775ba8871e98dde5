// Pure helpers of the call page, run by `node --test` (tests/dashboard/test_node_units.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { callsPerDay, percentile, stackTurn, unheardPart } from "../src/latency.js";

test("the stages add up to voice to voice, the platform taking the rest", () => {
  const stacked = stackTurn({
    endpointing_ms: 600,
    stt_final_ms: 250,
    llm_first_token_ms: 400,
    first_sentence_ms: 700,
    tts_first_audio_ms: 150,
    voice_to_voice_ms: 1500,
  });
  assert.deepEqual(stacked, {
    stt: 250,
    endpointing: 350,
    llm: 400,
    sentence: 300,
    tts: 150,
    platform: 50,
    total: 1500,
  });
});

test("a final after the turn's end counts as transcriber time only up to the end", () => {
  const stacked = stackTurn({ endpointing_ms: 500, stt_final_ms: 900, voice_to_voice_ms: 500 });
  assert.equal(stacked.stt, 500);
  assert.equal(stacked.endpointing, 0);
  assert.equal(stacked.platform, 0);
});

test("missing stages count as zero and never make a negative platform", () => {
  const stacked = stackTurn({ endpointing_ms: 300, llm_first_token_ms: null, voice_to_voice_ms: 200 });
  assert.equal(stacked.llm, 0);
  assert.equal(stacked.platform, 0);
  assert.equal(stacked.total, 300);
});

test("the unheard part of an interrupted reply", () => {
  const cut = { interrupted: true, text: "Sure, we open", intended: "Sure, we open at nine." };
  assert.equal(unheardPart(cut), " at nine.");
  assert.equal(unheardPart({ interrupted: true, text: "", intended: "Hello." }), "Hello.");
  assert.equal(unheardPart({ interrupted: false, text: "Hi.", intended: "Hi." }), "");
});

test("percentiles interpolate between the nearest ranks", () => {
  assert.equal(percentile([], 50), null);
  assert.equal(percentile([700], 95), 700);
  assert.equal(percentile([400, 100, 300, 200], 50), 250);
  assert.equal(percentile([100, 200, 300, 400, 500], 95), 480);
  assert.equal(percentile([100, null, 300], 50), 200);
});

test("calls are counted on their local start day, every day of the window present", () => {
  const today = new Date(2026, 11, 7, 15, 0);
  const at = (day, hour) => new Date(2026, 11, day, hour).toISOString();
  const counted = callsPerDay(
    [{ started_at: at(7, 9) }, { started_at: at(7, 23) }, { started_at: at(5, 1) }, { started_at: at(1, 12) }, { started_at: null }],
    3,
    today,
  );
  assert.deepEqual(counted, [
    { day: "2026-12-05", count: 1 },
    { day: "2026-12-06", count: 0 },
    { day: "2026-12-07", count: 2 },
  ]);
});
