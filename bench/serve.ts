/**
 * `m3 serve` throughput on loopback, and a bounded soak.
 *   npx tsx bench/serve.ts [--model <dir>] [--seconds 4] [--rounds 1] [--soak-seconds 0] [--json out.json]
 *
 * Throughput: clients send POST /v1/embeddings (4 texts of 8..120 words, base64) back to back at
 * concurrency 1, 4, 16, 64, to a server with and without cross-request batching; requests/s,
 * tokens/s, p50/p99 latency, and the share of the bare encoder's tokens/s (the same texts in
 * one encode call per 64), measured just before each concurrency level. Server and clients share
 * this process (and its 2 cores here), so the client's own cost is inside the numbers.
 *
 * Soak (`--soak-seconds N`): 16 clients of mixed traffic — embeddings, encode, rerank, search,
 * bad requests (expected 400), clients that disconnect right after sending — for N seconds;
 * every 200 answer is checked against the library in process; RSS sampled each second.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir, loadavg } from "node:os";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { M3Encoder } from "../src/encode/encoder.js";
import { M3HybridStore } from "../src/open.js";
import { createM3Server, type M3Server } from "../src/serve/index.js";
import { Rng } from "./lib/rng.js";

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : def;
}
const MODEL = arg("--model", join(import.meta.dirname, "../test/fixtures/models/encoder-only"));
const SECONDS = Number(arg("--seconds", "4"));
const SOAK = Number(arg("--soak-seconds", "0"));
const ROUNDS = Number(arg("--rounds", "1"));
const JSON_OUT = arg("--json", "");

const WORDS = "bread dough rises because yeast eats sugar and makes gas the quick brown fox jumps over a lazy dog tokyo is the capital of japan sourdough starter flour water salt oven heat crust crumb".split(" ");
const rng = new Rng(7);
function text(): string {
  const n = 8 + Math.floor(rng.next() * 112);
  return Array.from({ length: n }, () => WORDS[Math.floor(rng.next() * WORDS.length)]).join(" ");
}
const POOL = Array.from({ length: 512 }, text);

let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

async function bare(encoder: M3Encoder): Promise<number> {
  await encoder.encode(POOL.slice(0, 64), { sparse: false, colbert: false });
  let tokens = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    for (let i = 0; i < POOL.length; i += 64) {
      const out = await encoder.encode(POOL.slice(i, i + 64), { sparse: false, colbert: false });
      tokens += out.reduce((s, e) => s + e.tokenCount, 0);
    }
  }
  return tokens / ((performance.now() - t0) / 1000);
}

async function load(server: M3Server, concurrency: number): Promise<{ rps: number; tps: number; p50: number; p99: number; errors: number }> {
  const lat: number[] = [];
  let tokens = 0;
  let errors = 0;
  let next = 0;
  const stopAt = performance.now() + SECONDS * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      const input = [0, 1, 2, 3].map(() => POOL[next++ % POOL.length]!);
      const t = performance.now();
      const r = await fetch(`${server.url}/v1/embeddings`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input, encoding_format: "base64" }) });
      const j = (await r.json()) as { usage?: { prompt_tokens: number } };
      lat.push(performance.now() - t);
      if (r.status !== 200) errors++;
      else tokens += j.usage!.prompt_tokens;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const s = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { rps: lat.length / s, tps: tokens / s, p50: pct(lat, 0.5), p99: pct(lat, 0.99), errors };
}

async function throughput(encoder: M3Encoder): Promise<Record<string, unknown>> {
  const servers = {
    off: await createM3Server({ encoder, port: 0, batching: { enabled: false } }),
    on: await createM3Server({ encoder, port: 0 }),
  };
  await Promise.all([servers.off.ready(), servers.on.ready()]);
  // Each concurrency level: the bare encoder, then off, then on, ROUNDS times; a share is
  // against the bare run just before it (the load of this shared machine drifts).
  const rows: Array<Record<string, number | string>> = [];
  const bares: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of [1, 4, 16, 64]) {
      const bareTps = await bare(encoder);
      bares.push(bareTps);
      for (const v of ["off", "on"] as const) {
        const r = await load(servers[v], c);
        rows.push({ round, concurrency: c, batching: v, ...r, bareTps, share: r.tps / bareTps, load1: loadavg()[0]! });
      }
    }
  }
  const bareTps = Math.min(...bares);
  const bareAfter = Math.max(...bares);
  await servers.off.close();
  await servers.on.close();
  const out = [
    `bare encoder: ${bareTps.toFixed(0)}..${bareAfter.toFixed(0)} tokens/s over the runs; load at the end ${loadavg().map((x) => x.toFixed(2)).join(" ")}`,
    "| round | concurrency | batching | requests/s | tokens/s | p50 ms | p99 ms | share of bare tokens/s | errors | load1 |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map((r) => `| ${r["round"]} | ${r["concurrency"]} | ${r["batching"]} | ${(r["rps"] as number).toFixed(0)} | ${(r["tps"] as number).toFixed(0)} | ${(r["p50"] as number).toFixed(1)} | ${(r["p99"] as number).toFixed(1)} | ${((r["share"] as number) * 100).toFixed(0)}% | ${r["errors"]} | ${(r["load1"] as number).toFixed(2)} |`),
    `peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
  ];
  process.stdout.write(out.join("\n") + "\n");
  return { bareTps, bareAfter, rows, peakRssMiB: peakRss / 2 ** 20 };
}

function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) > 1e-5) return false;
  return true;
}

async function soak(encoder: M3Encoder): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "m3-soak-"));
  const docs = POOL.slice(0, 200).map((t, i) => ({ id: `d${i}`, pageContent: t, metadata: { i } }));
  const s0 = await M3HybridStore.create(encoder);
  await s0.addDocuments(docs);
  await s0.save(join(dir, "idx"));
  await s0.close();
  const store = await M3HybridStore.load(join(dir, "idx"), encoder);
  const server = await createM3Server({ encoder, port: 0, index: join(dir, "idx"), limits: { queueTokens: 20_000, maxRequestTokens: 20_000 } });
  await server.ready();
  const ref = new Map<string, Float32Array>();
  for (const t of POOL) ref.set(t, (await encoder.encode([t], { sparse: false, colbert: false }))[0]!.dense!);
  const queries = POOL.slice(300, 340);
  const searchRef = new Map<string, string[]>();
  for (const q of queries) searchRef.set(q, (await store.search(q, { k: 5 })).map((h) => h.id));
  const counts: Record<string, number> = {};
  const bump = (k: string): void => void (counts[k] = (counts[k] ?? 0) + 1);
  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(process.memoryUsage().rss / 2 ** 20), 1000);
  const stopAt = performance.now() + SOAK * 1000;
  const post = (path: string, body: unknown, signal?: AbortSignal): Promise<Response> =>
    fetch(server.url + path, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body), signal });
  const r2 = new Rng(11);
  const pick = (): string => POOL[Math.floor(r2.next() * POOL.length)]!;
  const worker = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      const kind = Math.floor(r2.next() * 10);
      try {
        if (kind <= 2) {
          const input = [pick(), pick()];
          const j = (await (await post("/v1/embeddings", { input })).json()) as { data: Array<{ embedding: number[] }> };
          bump(j.data.every((d, i) => same(d.embedding, ref.get(input[i]!)!)) ? "embeddings ok" : "embeddings MISMATCH");
        } else if (kind <= 4) {
          const input = [pick()];
          const j = (await (await post("/v1/encode", { input })).json()) as { data: Array<{ dense: number[] }> };
          bump(same(j.data[0]!.dense, ref.get(input[0]!)!) ? "encode ok" : "encode MISMATCH");
        } else if (kind === 5) {
          const r = await post("/v1/rerank", { query: pick(), documents: [pick(), pick(), pick()] });
          bump(r.status === 200 ? "rerank ok" : `rerank ${r.status}`);
          await r.arrayBuffer();
        } else if (kind === 6) {
          const q = queries[Math.floor(r2.next() * queries.length)]!;
          const j = (await (await post("/v1/search", { query: q, k: 5 })).json()) as { hits: Array<{ id: string }> };
          bump(JSON.stringify(j.hits.map((h) => h.id)) === JSON.stringify(searchRef.get(q)) ? "search ok" : "search MISMATCH");
        } else if (kind === 7) {
          const bad = [["/v1/encode", "{oops"], ["/v1/encode", { input: 1 }], ["/v1/rerank", { query: "q" }], ["/v1/search", { query: "q", k: "x" }]] as const;
          const [path, body] = bad[Math.floor(r2.next() * bad.length)]!;
          const r = await post(path, body);
          bump(r.status === 400 ? "bad request 400 (expected)" : `bad request UNEXPECTED ${r.status}`);
          await r.arrayBuffer();
        } else {
          const ac = new AbortController();
          const p = post("/v1/encode", { input: [pick(), pick(), pick()] }, ac.signal);
          setImmediate(() => ac.abort());
          await p.then((r) => r.arrayBuffer()).catch(() => undefined);
          bump("disconnect");
        }
      } catch (err) {
        bump(`client error ${String(err).slice(0, 60)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  clearInterval(sampler);
  const metrics = server.metrics.render();
  const statuses = [...metrics.matchAll(/m3_requests_total\{endpoint="([^"]+)",status="(\d+)"\} (\d+)/g)].map((m) => `${m[1]} ${m[2]}: ${m[3]}`);
  await server.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  const third = Math.max(1, Math.floor(rss.length / 3));
  const mean = (a: number[]): number => a.reduce((s, x) => s + x, 0) / a.length;
  const result = { seconds: SOAK, counts, statuses, rssFirstThirdMiB: mean(rss.slice(0, third)), rssLastThirdMiB: mean(rss.slice(-third)), rssMaxMiB: Math.max(...rss) };
  process.stdout.write(`soak ${SOAK} s, load ${loadavg().map((x) => x.toFixed(2)).join(" ")}\n${JSON.stringify(result, null, 1)}\n`);
  return result;
}

const encoder = await M3Encoder.load({ modelPath: MODEL });
const result: Record<string, unknown> = { model: MODEL, seconds: SECONDS, loadStart: loadavg() };
if (SECONDS > 0) result["throughput"] = await throughput(encoder);
if (SOAK > 0) result["soak"] = await soak(encoder);
clearInterval(rssTimer);
await encoder.dispose();
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(result, null, 1));
