// How the Versions page words an assistant's stored versions (GET
// /api/v1/assistants/{id}/versions), kept pure for `node --test`.

/** "Created", "Updated", "Restored from version 3". */
export function actionText(version) {
  if (version.action === "create") return "Created";
  if (version.action === "restore") return version.restored_from ? `Restored from version ${version.restored_from}` : "Restored";
  return "Updated";
}

/** Who stored it: the user, and the API key when one was used. */
export function authorText(author) {
  if (!author || (author.user_id == null && author.api_key_id == null)) return "—";
  const parts = [];
  if (author.user_id != null) parts.push(`user #${author.user_id}`);
  if (author.api_key_id != null) parts.push(`API key #${author.api_key_id}`);
  else if (author.auth_method === "session") parts.push("the dashboard");
  return parts.join(" with ");
}

const MARKS = { added: "+", removed: "−", changed: "~" };

/** The changed paths as "~ llm_settings.temperature" lines, at most `limit` of them and
 * how many more. */
export function changeLines(changes, limit = 8) {
  const lines = (changes || []).slice(0, limit).map((change) => `${MARKS[change.change] || "~"} ${change.path}`);
  const more = Math.max(0, (changes || []).length - limit);
  return { lines, more };
}
