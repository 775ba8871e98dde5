// The call page's recording: both channels drawn from the decoded audio, and the
// transcript line being played. Pure functions, tested by `node --test`.

/** Per column, the lowest and highest sample of its stretch of `samples` (−1…1):
 * `columns` pairs [min, max]; silence past the end is [0, 0]. */
export function peaks(samples, columns) {
  const result = [];
  const per = samples.length / columns;
  for (let column = 0; column < columns; column += 1) {
    const from = Math.floor(column * per);
    const to = Math.max(from + 1, Math.floor((column + 1) * per));
    let low = 0;
    let high = 0;
    for (let i = from; i < to && i < samples.length; i += 1) {
      if (samples[i] < low) low = samples[i];
      if (samples[i] > high) high = samples[i];
    }
    result.push([low, high]);
  }
  return result;
}

/** An SVG path of one channel's peaks in a `width` × `height` box (one vertical
 * stroke a column, around the middle line); quiet columns still show as a line. */
export function wavePath(columnPeaks, width, height) {
  const middle = height / 2;
  const step = width / Math.max(1, columnPeaks.length);
  const parts = [];
  columnPeaks.forEach(([low, high], column) => {
    const x = (column + 0.5) * step;
    const top = Math.min(middle - 0.5, middle - high * middle);
    const bottom = Math.max(middle + 0.5, middle - low * middle);
    parts.push(`M${x.toFixed(1)} ${top.toFixed(1)}V${bottom.toFixed(1)}`);
  });
  return parts.join("");
}

/** The index of the transcript line being played at `seconds`: the last line that
 * starts at or before it, or −1 before the first. Lines are in time order. */
export function playingLine(messages, seconds) {
  let playing = -1;
  messages.forEach((line, index) => {
    if (Number(line.seconds_from_start ?? 0) <= seconds) playing = index;
  });
  return playing;
}
