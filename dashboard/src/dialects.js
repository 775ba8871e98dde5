// The shapes the API reads and writes an assistant in (`?format=` on Get, List and Import).
export const FORMATS = [
  { id: "canonical", label: "callwright (seeds 000 and 003)" },
  { id: "vapi", label: "Vapi-style, camelCase (seed 001)" },
  { id: "envelope", label: "{success, data} envelope (seed 002)" },
  { id: "details", label: "assistant_* details (seed 004)" },
];
