// The call page's waveform and playback helpers, run by `node --test`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { peaks, playingLine, wavePath } from "../src/waveform.js";

test("each column holds the extremes of its stretch", () => {
  const samples = Float32Array.from([0.125, -0.5, 0.25, 0, 0.75, -0.25, 0, 0]);
  assert.deepEqual(peaks(samples, 4), [
    [-0.5, 0.125],
    [0, 0.25],
    [-0.25, 0.75],
    [0, 0],
  ]);
});

test("more columns than samples repeat none and leave the rest silent", () => {
  assert.deepEqual(peaks(Float32Array.from([0.5, -0.5]), 4), [
    [0, 0.5],
    [0, 0.5],
    [-0.5, 0],
    [-0.5, 0],
  ]);
  assert.deepEqual(peaks(new Float32Array(0), 2), [
    [0, 0],
    [0, 0],
  ]);
});

test("the path draws one stroke a column around the middle, full scale to the edges", () => {
  assert.equal(wavePath([[-1, 1], [0, 0]], 20, 10), "M5.0 0.0V10.0M15.0 4.5V5.5");
});

test("the line being played is the last one started", () => {
  const lines = [{ seconds_from_start: 0.5 }, { seconds_from_start: 3 }, { seconds_from_start: 7.25 }];
  assert.equal(playingLine(lines, 0), -1);
  assert.equal(playingLine(lines, 0.5), 0);
  assert.equal(playingLine(lines, 6.9), 1);
  assert.equal(playingLine(lines, 60), 2);
  assert.equal(playingLine([], 1), -1);
});
