// Small display helpers shared by the pages.

export function dateTime(value) {
  return value ? new Date(value).toLocaleString() : "—";
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

/** A URL query from the non-empty entries of `values`, "?"-prefixed or "". */
export function queryString(values) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && value !== null && value !== "") query.set(name, value);
  }
  const text = query.toString();
  return text ? `?${text}` : "";
}
