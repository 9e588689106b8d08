#!/usr/bin/env node
// The import graph of src/, checked: no cycle (type-only imports included), and no arrow from
// above the backend seam (retrieve/, langchain/, cli/ below their composition modules) into a
// backend (index/, postgres/). One composition module, src/open.ts, is the only place above the
// seam that knows the backends by name. Exits 1 and prints every violation. `--json` prints the
// graph. Used by test/imports.test.ts.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "src");

/** Folders above the seam: they may import backend/, never index/ or postgres/. */
export const ABOVE = ["retrieve", "langchain", "serve"];
/** The backends. */
export const BACKENDS = ["index", "postgres"];
/** The one module above the seam allowed to name the backends. */
export const COMPOSITION = ["open.ts"];

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** Relative specifiers imported or re-exported by a file (static and dynamic). */
function importsOf(text) {
  const specs = [];
  const noComments = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
  const re = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/gm;
  for (const m of noComments.matchAll(re)) {
    const s = m[1] ?? m[2];
    if (s.startsWith(".")) specs.push(s);
  }
  return specs;
}

export function graph() {
  const files = walk(root);
  const edges = new Map();
  for (const f of files) {
    const rel = relative(root, f);
    const targets = [];
    for (const s of importsOf(readFileSync(f, "utf8"))) {
      let t = resolve(dirname(f), s).replace(/\.js$/, ".ts");
      try {
        if (statSync(t).isDirectory()) t = join(t, "index.ts");
      } catch {
        /* a file */
      }
      targets.push(relative(root, t));
    }
    edges.set(rel, [...new Set(targets)]);
  }
  return edges;
}

export function cycles(edges) {
  const found = [];
  const state = new Map();
  const stack = [];
  const visit = (n) => {
    state.set(n, 1);
    stack.push(n);
    for (const t of edges.get(n) ?? []) {
      if (!edges.has(t)) continue;
      if (state.get(t) === 1) found.push([...stack.slice(stack.indexOf(t)), t]);
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of [...edges.keys()].sort()) if (!state.has(n)) visit(n);
  return found;
}

export function forbidden(edges) {
  const bad = [];
  const top = (p) => p.split("/")[0];
  for (const [from, tos] of edges) {
    if (COMPOSITION.includes(from)) continue;
    const above = ABOVE.includes(top(from));
    for (const to of tos) {
      if (!BACKENDS.includes(top(to))) continue;
      if (above) bad.push(`${from} → ${to}`);
      // One backend never imports the other.
      if (BACKENDS.includes(top(from)) && top(from) !== top(to)) bad.push(`${from} → ${to}`);
      // Nothing below the seam (backend/, math/, util/, types, errors) imports a backend.
      if (["backend", "math", "util", "tokenize"].includes(top(from))) bad.push(`${from} → ${to}`);
    }
  }
  return bad;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const edges = graph();
  if (process.argv.includes("--json")) {
    console.log(JSON.stringify(Object.fromEntries(edges), null, 1));
    process.exit(0);
  }
  const c = cycles(edges);
  const f = forbidden(edges);
  for (const x of c) console.log(`cycle: ${x.join(" → ")}`);
  for (const x of f) console.log(`forbidden: ${x}`);
  console.log(`${edges.size} modules, ${c.length} cycle(s), ${f.length} forbidden import(s)`);
  process.exit(c.length + f.length > 0 ? 1 : 0);
}
