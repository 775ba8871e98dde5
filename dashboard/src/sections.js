// The dashboard's top-level paths. The server answers each of them (and anything under
// them) with index.html so that a reload or a shared link opens the right page; the
// build copies this list into manifest.json, the server's only source for it. Every page
// lives under /app: seed 001 already answers `GET /assistants/{id}` as API.
export const SECTIONS = ["app"];
