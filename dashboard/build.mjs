// Builds the dashboard into ../src/callwright/web/dashboard/ (not committed):
//   index.html            the one page, naming the hashed bundles
//   assets/app-HASH.js    the app (Preact, bundled by esbuild, minified)
//   assets/app-HASH.css   its styles
//   manifest.json         {sources_sha256, sections, assets}: what the server serves
//
// `node build.mjs --if-stale` builds only when the sources' digest differs from the
// manifest's, so `./dev` can run it on every start. The digest covers every file here
// except node_modules; tests recompute it to prove the served build is not stale.
import { createHash } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

import { SECTIONS } from "./src/sections.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = join(HERE, "..", "src", "callwright", "web", "dashboard");
// Built here first and moved into place whole: a failed build leaves the last one.
const NEXT = `${OUT}.next`;
const IGNORED = new Set(["node_modules"]);

async function sourceFiles(directory) {
  const found = [];
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    if (IGNORED.has(entry.name) || entry.name.startsWith(".")) continue;
    const path = join(directory, entry.name);
    if (entry.isDirectory()) found.push(...(await sourceFiles(path)));
    else if (entry.isFile()) found.push(path);
  }
  return found;
}

// sha256 over "relative/path\0sha256(content)\n" lines, sorted by path (POSIX
// separators, byte order): tests/dashboard_sources.py computes the same.
export async function sourcesDigest() {
  const paths = (await sourceFiles(HERE)).map((path) => relative(HERE, path).split(sep).join("/"));
  paths.sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : a === b ? 0 : 1));
  const digest = createHash("sha256");
  for (const path of paths) {
    const content = await readFile(join(HERE, path));
    digest.update(`${path}\0${createHash("sha256").update(content).digest("hex")}\n`);
  }
  return digest.digest("hex");
}

async function currentManifest() {
  try {
    return JSON.parse(await readFile(join(OUT, "manifest.json"), "utf8"));
  } catch {
    return null;
  }
}

async function build(digest) {
  const esbuild = await import("esbuild");
  await rm(NEXT, { recursive: true, force: true });
  await mkdir(join(NEXT, "assets"), { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: HERE,
    entryPoints: { app: "src/main.jsx" },
    bundle: true,
    minify: true,
    format: "esm",
    target: ["chrome110", "firefox115", "safari16"],
    jsx: "automatic",
    jsxImportSource: "preact",
    outdir: join(NEXT, "assets"),
    entryNames: "[name]-[hash]",
    metafile: true,
    legalComments: "linked",
    logLevel: "warning",
  });
  const assets = Object.keys(result.metafile.outputs).map((path) =>
    relative(join(NEXT, "assets"), join(HERE, path)).split(sep).join("/"),
  );
  const script = assets.find((name) => name.endsWith(".js"));
  const style = assets.find((name) => name.endsWith(".css"));
  const template = await readFile(join(HERE, "index.html"), "utf8");
  const page = template
    .replace("<!-- style -->", `<link rel="stylesheet" href="/assets/${style}">`)
    .replace("<!-- script -->", `<script type="module" src="/assets/${script}"></script>`);
  await writeFile(join(NEXT, "index.html"), page);
  const manifest = { sources_sha256: digest, sections: SECTIONS, assets: assets.sort() };
  await writeFile(join(NEXT, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  await rm(OUT, { recursive: true, force: true });
  await rename(NEXT, OUT);
  return manifest;
}

const digest = await sourcesDigest();
const ifStale = process.argv.includes("--if-stale");
const existing = await currentManifest();
if (ifStale && existing?.sources_sha256 === digest) {
  process.exit(0);
}
const manifest = await build(digest);
console.log(`dashboard built: ${manifest.assets.join(", ")} (sources ${digest.slice(0, 12)})`);
