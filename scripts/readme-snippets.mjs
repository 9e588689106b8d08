#!/usr/bin/env node
/**
 * Runs the README's TypeScript snippets the way a user would: from the packed tarball.
 *
 *   node scripts/readme-snippets.mjs [--core <version>]
 *
 * 1. Every ```ts block of README.md must be self-contained: its first line is an install command
 *    (`// npm install …`) naming every package the block imports.
 * 2. `npm pack` (needs a build: dist/), then a temporary project outside the repository whose
 *    node_modules holds the unpacked tarball as `langchain-m3` and, for every other package, a
 *    link to this repository's node_modules (no network: nothing is downloaded).
 * 3. `tsc --noEmit --strict` over all blocks, then each block runs with tsx (60 s each, two at a
 *    time) — except blocks preceded by `<!-- snippet: typecheck-only -->` (they need a server or
 *    an API key).
 *    The model path `/models/bge-m3` becomes the tiny test model.
 *
 * `--core <version>` uses that @langchain/core instead of the installed one (installed with npm
 * into .tmp/langchain-core-<version>, once; this needs the npm registry). Type-checking and
 * running then use it; the typecheck-only blocks are skipped (packages such as `langchain` pin
 * their own @langchain/core).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..");
const NM = path.join(ROOT, "node_modules");
const TINY = path.join(ROOT, "test/fixtures/models/encoder-only");
const coreArg = process.argv.indexOf("--core");
const coreVersion = coreArg >= 0 ? process.argv[coreArg + 1] : undefined;
const t0 = Date.now();
const secs = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

function fail(message) {
  console.error(`readme-snippets: ${message}`);
  process.exit(1);
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 120_000, ...options });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}`, status: r.status };
}

// 1. The blocks and their install lines
const readme = readFileSync(path.join(ROOT, "README.md"), "utf8").split("\n");
const blocks = [];
for (let i = 0; i < readme.length; i++) {
  if (readme[i].trim() !== "```ts") continue;
  let j = i - 1;
  while (j >= 0 && readme[j].trim() === "") j--;
  const typecheckOnly = readme[j]?.trim() === "<!-- snippet: typecheck-only -->";
  const start = i + 1;
  let end = start;
  while (end < readme.length && readme[end].trim() !== "```") end++;
  blocks.push({ line: start + 1, code: readme.slice(start, end).join("\n"), typecheckOnly });
  i = end;
}
if (blocks.length === 0) fail("no ```ts blocks found in README.md");
const problems = [];
for (const b of blocks) {
  const first = b.code.split("\n")[0].trim();
  const install = first.match(/^\/\/ npm install (.+)$/);
  const imported = [...b.code.matchAll(/^\s*import\s[^;]*?from\s+"([^"]+)"/gm)].map((m) => m[1]).filter((s) => !s.startsWith("node:") && !s.startsWith("."));
  const pkgs = [...new Set(imported.map((s) => (s.startsWith("@") ? s.split("/").slice(0, 2).join("/") : s.split("/")[0])))];
  if (!install) {
    problems.push(`README.md:${b.line}: the block must start with its install line (// npm install …)`);
    continue;
  }
  const listed = new Set(install[1].split(/\s+/));
  const missing = pkgs.filter((p) => !listed.has(p));
  if (missing.length) problems.push(`README.md:${b.line}: imports ${missing.join(", ")} but its install line does not name ${missing.length > 1 ? "them" : "it"}`);
  if (!listed.has("langchain-m3")) problems.push(`README.md:${b.line}: the install line does not name langchain-m3`);
}
if (problems.length) fail(`\n  ${problems.join("\n  ")}`);

// 2. The tarball in a temporary project
if (!existsSync(path.join(ROOT, "dist/index.js"))) fail("dist/ is missing; run `npm run build` first");
let coreDir;
if (coreVersion !== undefined) {
  if (!/^\d+\.\d+\.\d+$/.test(coreVersion ?? "")) fail(`--core needs a version such as 1.0.0; got ${coreVersion}`);
  const prefix = path.join(ROOT, ".tmp", `langchain-core-${coreVersion}`);
  coreDir = path.join(prefix, "node_modules/@langchain/core");
  if (!existsSync(path.join(coreDir, "package.json"))) {
    mkdirSync(prefix, { recursive: true });
    writeFileSync(path.join(prefix, "package.json"), '{ "private": true }\n');
    const r = run("npm", ["install", "--no-audit", "--no-fund", "--no-save", "--loglevel=error", "--prefix", prefix, `@langchain/core@${coreVersion}`], { timeout: 300_000 });
    if (!r.ok) fail(`could not install @langchain/core@${coreVersion} (the npm registry is needed once):\n${r.out}`);
  }
  const got = JSON.parse(readFileSync(path.join(coreDir, "package.json"), "utf8")).version;
  if (got !== coreVersion) fail(`expected @langchain/core ${coreVersion} in ${coreDir}, found ${got}`);
}
const work = mkdtempSync(path.join(tmpdir(), "m3-snippets-"));
try {
  const pack = run("npm", ["pack", "--silent", "--pack-destination", work], { cwd: ROOT });
  if (!pack.ok) fail(`npm pack failed:\n${pack.out}`);
  const tarball = path.join(work, pack.out.trim().split("\n").pop());
  const project = path.join(work, "project");
  const nm = path.join(project, "node_modules");
  mkdirSync(path.join(nm, "langchain-m3"), { recursive: true });
  const untar = run("tar", ["-xzf", tarball, "-C", path.join(nm, "langchain-m3"), "--strip-components=1"]);
  if (!untar.ok) fail(`could not unpack ${tarball}:\n${untar.out}`);
  const link = (from, to) => symlinkSync(from, to, "junction");
  for (const entry of readdirSync(NM)) {
    if (entry.startsWith(".") || entry === "langchain-m3") continue;
    if (entry === "@langchain" && coreDir !== undefined) {
      mkdirSync(path.join(nm, "@langchain"));
      for (const sub of readdirSync(path.join(NM, "@langchain"))) {
        link(sub === "core" ? coreDir : path.join(NM, "@langchain", sub), path.join(nm, "@langchain", sub));
      }
      continue;
    }
    link(path.join(NM, entry), path.join(nm, entry));
  }
  writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "snippets", private: true, type: "module" }, null, 2));
  const chosen = blocks.filter((b) => coreDir === undefined || !b.typecheckOnly);
  const files = chosen.map((b, i) => {
    const file = `snippet-${String(i + 1).padStart(2, "0")}-line-${b.line}.ts`;
    writeFileSync(path.join(project, file), b.code.replaceAll('"/models/bge-m3"', JSON.stringify(TINY)));
    return file;
  });
  writeFileSync(
    path.join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: true, types: ["node"], lib: ["ES2022"] },
      files,
    }, null, 2),
  );

  // 3. Type-check, then run
  const core = JSON.parse(readFileSync(path.join(nm, "@langchain/core/package.json"), "utf8")).version;
  console.log(`readme-snippets: ${chosen.length} blocks from ${path.basename(tarball)}, @langchain/core ${core} (packed in ${secs()})`);
  const tsc = run(process.execPath, [path.join(NM, "typescript/bin/tsc"), "-p", project], { cwd: project });
  if (!tsc.ok) fail(`type errors (file names say the README line of each block):\n${tsc.out}`);
  console.log(`   type-checked ${files.length} blocks (${secs()})`);
  // Two blocks at a time (each is mostly model loading and tsx start-up), reported in README order.
  const runOne = (file) =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", file], { cwd: project, timeout: 60_000 });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (out += d));
      child.on("close", (status) => resolve({ ok: status === 0, status, out, at: secs() }));
    });
  const results = new Array(chosen.length);
  let next = 0;
  const worker = async () => {
    while (next < chosen.length) {
      const i = next++;
      if (!chosen[i].typecheckOnly) results[i] = await runOne(files[i]);
    }
  };
  await Promise.all([worker(), worker()]);
  let failed = 0;
  for (const [i, b] of chosen.entries()) {
    const r = results[i];
    if (b.typecheckOnly) console.log(`   README.md:${b.line}: type-checked only`);
    else if (r.ok) console.log(`   README.md:${b.line}: ran (done at ${r.at})`);
    else {
      failed++;
      console.log(`   README.md:${b.line}: FAILED (exit ${r.status})\n${r.out.split("\n").map((l) => `      ${l}`).join("\n")}`);
    }
  }
  if (failed) fail(`${failed} block(s) failed`);
  console.log(`readme-snippets: ok (${secs()})`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
