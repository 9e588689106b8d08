/**
 * `m3 serve` throughput on loopback, and a bounded soak.
 *   npx tsx bench/serve.ts [--model <dir>] [--seconds 4] [--rounds 1] [--texts 4] [--words 8..120]
 *     [--levels 1,4,16,64] [--soak-seconds 0] [--json out.json]
 *
 * Throughput: a load generator in its own process (bench/lib/serve-load.ts: keep-alive
 * node:http clients, closed loop) sends POST /v1/embeddings (`--texts` texts of `--words`
 * words, base64) back to back at each concurrency level, to a server with and without
 * cross-request batching; requests/s, tokens/s, p50/p99 latency, and the share of the bare
 * encoder's tokens/s (the same texts, one `encode` call per 64, in this process with no server),
 * measured just before each level. Peak RSS is this process's (server and model; the clients
 * are the other process). On a 2-core machine the client process competes for the cores.
 *
 * Soak (`--soak-seconds N`): 16 clients of mixed traffic — embeddings, encode, rerank, search,
 * bad requests (expected 400), clients that disconnect right after sending — for N seconds;
 * every 200 answer is checked against the library in process; RSS sampled each second.
 */
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir, loadavg } from "node:os";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { M3Encoder } from "../src/encode/encoder.js";
import { M3HybridStore } from "../src/open.js";
import { createM3Server, type M3Server } from "../src/serve/index.js";
import { Rng } from "./lib/rng.js";
import type { LoadJob, LoadResult } from "./lib/serve-load.js";

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : def;
}
const MODEL = arg("--model", join(import.meta.dirname, "../test/fixtures/models/encoder-only"));
const SECONDS = Number(arg("--seconds", "4"));
const SOAK = Number(arg("--soak-seconds", "0"));
const ROUNDS = Number(arg("--rounds", "1"));
const TEXTS = Number(arg("--texts", "4"));
const [MIN_WORDS, MAX_WORDS] = arg("--words", "8..120").split("..").map(Number) as [number, number];
const LEVELS = arg("--levels", "1,4,16,64").split(",").map(Number);
const JSON_OUT = arg("--json", "");

const WORDS = "bread dough rises because yeast eats sugar and makes gas the quick brown fox jumps over a lazy dog tokyo is the capital of japan sourdough starter flour water salt oven heat crust crumb".split(" ");
const rng = new Rng(7);
function text(): string {
  const n = MIN_WORDS + Math.floor(rng.next() * (MAX_WORDS - MIN_WORDS + 1));
  return Array.from({ length: n }, () => WORDS[Math.floor(rng.next() * WORDS.length)]).join(" ");
}
const POOL = Array.from({ length: 512 }, text);

let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

/** The bare encoder's tokens/s: the pool from `offset`, 64 texts per `encode` call, for SECONDS (at least one call). */
async function bare(encoder: M3Encoder, offset: number): Promise<{ tokens: number; seconds: number }> {
  let tokens = 0;
  let at = offset;
  const t0 = performance.now();
  do {
    const texts = Array.from({ length: 64 }, () => POOL[at++ % POOL.length]!);
    const out = await encoder.encode(texts, { sparse: false, colbert: false });
    tokens += out.reduce((s, e) => s + e.tokenCount, 0);
  } while (performance.now() - t0 < SECONDS * 1000);
  return { tokens, seconds: (performance.now() - t0) / 1000 };
}

/** Texts and encoder calls so far on a server (from its metrics). */
function batchTotals(server: M3Server): { texts: number; calls: number } {
  const m = server.metrics.render();
  const num = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(m)?.[1] ?? 0);
  return { texts: num("m3_batch_texts_sum"), calls: num("m3_batch_texts_count") };
}

/** The load generator process; `run` sends one job and waits for its result. */
function loadGenerator(): { run: (job: LoadJob) => Promise<LoadResult>; stop: () => void } {
  const child = fork(join(import.meta.dirname, "lib/serve-load.ts"), [], { execArgv: ["--import", "tsx"] });
  return {
    run: (job) =>
      new Promise((resolve, reject) => {
        child.once("message", (m: LoadResult | { error: string }) => ("error" in m ? reject(new Error(m.error)) : resolve(m)));
        child.send(job);
      }),
    stop: () => void child.kill(),
  };
}

async function throughput(encoder: M3Encoder): Promise<Record<string, unknown>> {
  const servers = {
    off: await createM3Server({ encoder, port: 0, batching: { enabled: false } }),
    on: await createM3Server({ encoder, port: 0 }),
  };
  await Promise.all([servers.off.ready(), servers.on.ready()]);
  const gen = loadGenerator();
  // Warm-up: the encoder, and each server through the client process.
  await encoder.encode(POOL.slice(0, 64), { sparse: false, colbert: false });
  for (const v of ["off", "on"] as const) await gen.run({ url: servers[v].url, concurrency: 4, seconds: 0.5, texts: TEXTS, pool: POOL, offset: 0 });
  // Each concurrency level: the bare encoder, then off, then on, ROUNDS times; a share is
  // against the bare run just before it (the load of this shared machine drifts).
  const rows: Array<Record<string, number | string>> = [];
  const bares: number[] = [];
  const bareRuns: Array<{ concurrency: number; tokens: number; seconds: number }> = [];
  let offset = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of LEVELS) {
      const b = await bare(encoder, offset);
      const bareTps = b.tokens / b.seconds;
      bares.push(bareTps);
      bareRuns.push({ concurrency: c, ...b });
      for (const v of ["off", "on"] as const) {
        const b0 = batchTotals(servers[v]);
        const r = await gen.run({ url: servers[v].url, concurrency: c, seconds: SECONDS, texts: TEXTS, pool: POOL, offset });
        const b1 = batchTotals(servers[v]);
        const tps = r.tokens / r.seconds;
        const textsPerCall = (b1.texts - b0.texts) / Math.max(1, b1.calls - b0.calls);
        process.stderr.write(`round ${round} concurrency ${c} ${v}: ${(tps).toFixed(0)} tokens/s, bare ${bareTps.toFixed(0)}, ${textsPerCall.toFixed(1)} texts per call, load ${loadavg()[0]!.toFixed(2)}\n`);
        rows.push({ round, concurrency: c, batching: v, requests: r.requests, tokens: r.tokens, seconds: r.seconds, rps: r.requests / r.seconds, tps, p50: pct(r.latencies, 0.5), p99: pct(r.latencies, 0.99), errors: r.errors, bareTps, share: tps / bareTps, textsPerCall, clientCpu: r.clientCpuSeconds / r.seconds, load1: loadavg()[0]! });
      }
      offset += 97;
    }
  }
  gen.stop();
  const bareTps = Math.min(...bares);
  const bareAfter = Math.max(...bares);
  const batches = servers.on.metrics.render().split("\n").filter((l) => /^m3_batch_(texts|tokens)_(sum|count)/.test(l));
  await servers.off.close();
  await servers.on.close();
  // Per level over all rounds: total tokens over total time, for the bare encoder and each server.
  const bareByLevel = new Map<number, { tokens: number; seconds: number }>();
  bareRuns.forEach((b) => {
    const t = bareByLevel.get(b.concurrency) ?? { tokens: 0, seconds: 0 };
    t.tokens += b.tokens;
    t.seconds += b.seconds;
    bareByLevel.set(b.concurrency, t);
  });
  const summary = LEVELS.flatMap((c) =>
    (["off", "on"] as const).map((v) => {
      const rs = rows.filter((r) => r["concurrency"] === c && r["batching"] === v);
      const tokens = rs.reduce((s, r) => s + (r["tokens"] as number), 0);
      const seconds = rs.reduce((s, r) => s + (r["seconds"] as number), 0);
      const requests = rs.reduce((s, r) => s + (r["requests"] as number), 0);
      const bareL = bareByLevel.get(c)!;
      const med = (k: string): number => rs.map((r) => r[k] as number).sort((x, y) => x - y)[Math.floor(rs.length / 2)]!;
      return { concurrency: c, batching: v, rps: requests / seconds, tps: tokens / seconds, bareTps: bareL.tokens / bareL.seconds, share: tokens / seconds / (bareL.tokens / bareL.seconds), p50: med("p50"), p99: med("p99"), textsPerCall: med("textsPerCall"), load1: med("load1") };
    }),
  );
  const out = [
    `bare encoder: ${bareTps.toFixed(0)}..${bareAfter.toFixed(0)} tokens/s over the runs; load at the end ${loadavg().map((x) => x.toFixed(2)).join(" ")}`,
    `${TEXTS} texts of ${MIN_WORDS}..${MAX_WORDS} words per request; ${ROUNDS} round(s) of ${SECONDS} s per level and variant, alternating bare / off / on`,
    "Summary (all rounds; p50/p99, texts per call and load1 are medians over rounds):",
    "| concurrency | batching | requests/s | tokens/s | bare tokens/s | share of bare | p50 ms | p99 ms | texts per encoder call | load1 |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...summary.map((r) => `| ${r.concurrency} | ${r.batching} | ${r.rps.toFixed(1)} | ${r.tps.toFixed(0)} | ${r.bareTps.toFixed(0)} | ${(r.share * 100).toFixed(0)}% | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${r.textsPerCall.toFixed(1)} | ${r.load1.toFixed(2)} |`),
    "Every run:",
    "| round | concurrency | batching | requests/s | tokens/s | p50 ms | p99 ms | bare tokens/s | share of bare | texts per encoder call | client CPU | errors | load1 |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map((r) => `| ${r["round"]} | ${r["concurrency"]} | ${r["batching"]} | ${(r["rps"] as number).toFixed(1)} | ${(r["tps"] as number).toFixed(0)} | ${(r["p50"] as number).toFixed(1)} | ${(r["p99"] as number).toFixed(1)} | ${(r["bareTps"] as number).toFixed(0)} | ${((r["share"] as number) * 100).toFixed(0)}% | ${(r["textsPerCall"] as number).toFixed(1)} | ${((r["clientCpu"] as number) * 100).toFixed(0)}% | ${r["errors"]} | ${(r["load1"] as number).toFixed(2)} |`),
    `peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB (server process); batching-on encoder calls: ${batches.join(", ")}`,
  ];
  process.stdout.write(out.join("\n") + "\n");
  return { bareTps, bareAfter, summary, bareRuns, rows, peakRssMiB: peakRss / 2 ** 20, texts: TEXTS, words: [MIN_WORDS, MAX_WORDS], batches };
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
const result: Record<string, unknown> = { model: MODEL, seconds: SECONDS, loadStart: loadavg(), date: new Date().toISOString() };
if (SECONDS > 0) result["throughput"] = await throughput(encoder);
if (SOAK > 0) result["soak"] = await soak(encoder);
clearInterval(rssTimer);
await encoder.dispose();
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(result, null, 1));
