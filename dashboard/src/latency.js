// A turn's latency as consecutive stages, from the caller's last word to the first
// frame of the reply sent (the record's voice_to_voice_ms), for a stacked bar.
//
// The record measures each stage from its own start (call record `turns`): the
// transcriber and the end-of-turn wait run side by side from the caller's last word,
// so the time to the turn's end is split into the transcriber's part (up to its final
// transcript) and the endpointing wait after it. The platform is whatever the measured
// stages leave of voice_to_voice: queues, resampling, this server's own work.

export const STAGES = [
  { id: "stt", label: "STT final" },
  { id: "endpointing", label: "Endpointing" },
  { id: "llm", label: "LLM first token" },
  { id: "sentence", label: "First sentence" },
  { id: "tts", label: "TTS first audio" },
  { id: "platform", label: "Platform" },
];

const value = (turn, name) => (typeof turn[name] === "number" && turn[name] >= 0 ? turn[name] : 0);

/** {stt, endpointing, llm, sentence, tts, platform, total} in milliseconds. */
export function stackTurn(turn) {
  const toEnd = value(turn, "endpointing_ms");
  const stt = Math.min(value(turn, "stt_final_ms"), toEnd);
  const llm = value(turn, "llm_first_token_ms");
  const sentence = Math.max(0, value(turn, "first_sentence_ms") - llm);
  const tts = value(turn, "tts_first_audio_ms");
  const measured = toEnd + llm + sentence + tts;
  const total = Math.max(value(turn, "voice_to_voice_ms"), measured);
  return { stt, endpointing: toEnd - stt, llm, sentence, tts, platform: total - measured, total };
}

/** What an interrupted reply meant to say beyond what the caller heard ("" if nothing). */
export function unheardPart(line) {
  if (!line.interrupted || !line.intended) return "";
  return line.intended.startsWith(line.text) ? line.intended.slice(line.text.length) : line.intended;
}

/** The p-th percentile (0–100) of `values` by linear interpolation; null when empty. */
export function percentile(values, p) {
  const sorted = values.filter((value) => typeof value === "number").sort((a, b) => a - b);
  if (!sorted.length) return null;
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
}

/** Calls per local day over the `days` days ending today: [{day: "YYYY-MM-DD", count}]. */
export function callsPerDay(calls, days, today = new Date()) {
  const key = (date) =>
    `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
  const counts = new Map();
  for (let back = days - 1; back >= 0; back -= 1) {
    const day = new Date(today.getFullYear(), today.getMonth(), today.getDate() - back);
    counts.set(key(day), 0);
  }
  for (const call of calls) {
    if (!call.started_at) continue;
    const day = key(new Date(call.started_at));
    if (counts.has(day)) counts.set(day, counts.get(day) + 1);
  }
  return [...counts].map(([day, count]) => ({ day, count }));
}
