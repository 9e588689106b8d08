/**
 * The Postgres backend beside the embedded index, on one synthetic corpus (bench/lib/synthetic.ts), in one run.
 *
 *   npx tsx bench/postgres.ts [--docs 2000 --dim 1024 --colbert-tokens 64,256 --queries 30 --gt-queries 30
 *        --batch 32 --dense-type halfvec --colbert-codec int8 --ef-search 100 --candidates 100 --load bulk|upsert
 *        --pg-url postgres://... (default: PGlite + pgvector in a child process, on disk under --data-dir)
 *        --no-embedded --out bench/results/postgres-<docs>.json]
 *
 * Both backends get the same documents in batches of --batch and the same queries (query encoding excluded):
 *   postgres   M3PostgresBackend over TCP; build = `--load bulk` (default: one bulkLoad of every batch into the empty
 *              collection, indexes built after the rows) or `--load upsert` (one transaction per batch, HNSW kept up
 *              to date), then VACUUM ANALYZE (timed apart); size = pg_total_relation_size of the collection's tables; bytes
 *              over the wire = what the client's socket received per search (candidates + scores statements).
 *   embedded   HybridIndex (HNSW + inverted lists + ColBERT store, default int8 codec), saved to a folder
 *              (disk-backed ColBERT after the first save, at 1000 documents); size = the folder's bytes.
 * Recall@10 is against exhaustive fused scoring (0.4·dense + 0.2·sparse + 0.4·float32 MaxSim over every
 * document, MaxSim through an onnxruntime Gemm), for the first --gt-queries queries.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { defaultColbertFactory } from "../src/index/default-colbert.js";
import { HybridIndex } from "../src/index/hybrid-index.js";
import { M3PostgresBackend } from "../src/postgres/index.js";
import type { PgColbertCodec } from "../src/postgres/colbert.js";
import type { PgVectorType } from "../src/postgres/options.js";
import type { RetrievalBackend } from "../src/backend/types.js";
import { searchWithStats } from "../src/retrieve/search.js";
import { log, machineInfo, now, parseArgs, round, summary } from "./lib/machine.js";
import { RowScorer } from "./lib/onnx-matmul.js";
import { SyntheticCorpus, type SyntheticDoc, type SyntheticQuery } from "./lib/synthetic.js";

const K = 10;
const W = { dense: 0.4, sparse: 0.2, colbert: 0.4 };
const FIRST_SAVE_AFTER = 1000;
const WARMUP = 2;

const args = parseArgs(process.argv.slice(2));
const int = (name: string, fallback: number) => (typeof args[name] === "string" ? Number.parseInt(args[name] as string, 10) : fallback);
const docs = int("docs", 2000);
const dim = int("dim", 1024);
const colbertDim = int("colbert-dim", dim);
const tokens = typeof args["colbert-tokens"] === "string" ? (args["colbert-tokens"] as string).split(",").map(Number) as [number, number] : undefined;
const nQueries = int("queries", 30);
const nGt = Math.min(nQueries, int("gt-queries", nQueries));
const batch = int("batch", 32);
const candidates = int("candidates", 100);
const efSearch = int("ef-search", 100);
const denseType = (args["dense-type"] ?? "halfvec") as PgVectorType;
const colbertCodec = (args["colbert-codec"] ?? "int8") as PgColbertCodec;
const load = (args.load ?? "bulk") as "bulk" | "upsert";
if (load !== "bulk" && load !== "upsert") throw new Error(`--load must be bulk or upsert; got ${String(load)}`);
const withEmbedded = args["no-embedded"] !== true;
const pgUrlArg = typeof args["pg-url"] === "string" ? (args["pg-url"] as string) : process.env.M3_PG_URL;
const out = typeof args.out === "string" ? (args.out as string) : `bench/results/postgres-${docs}.json`;

const sparseDot = (a: { indices: Uint32Array; values: Float32Array }, b: { indices: Uint32Array; values: Float32Array }) => {
  let i = 0, j = 0, s = 0;
  while (i < a.indices.length && j < b.indices.length) {
    const x = a.indices[i]!, y = b.indices[j]!;
    if (x === y) s += a.values[i++]! * b.values[j++]!;
    else if (x < y) i++;
    else j++;
  }
  return s;
};
const normDot = (q: Float32Array, d: Float32Array) => {
  let s = 0, n = 0;
  for (let i = 0; i < d.length; i++) {
    s += q[i]! * d[i]!;
    n += d[i]! * d[i]!;
  }
  return s / Math.max(Math.sqrt(n), 1e-12);
};

/** Exhaustive fused scores of the ground-truth queries, a chunk of documents at a time. */
class GroundTruth {
  readonly scores: Float32Array[];
  private readonly qRows: Float32Array;
  private readonly qOff: number[] = [];
  private constructor(private readonly qs: SyntheticQuery[], private readonly scorer: RowScorer) {
    this.scores = qs.map(() => new Float32Array(docs));
    let rows = 0;
    for (const q of qs) {
      this.qOff.push(rows);
      rows += q.colbert.tokens;
    }
    this.qRows = new Float32Array(rows * colbertDim);
    qs.forEach((q, i) => this.qRows.set(q.colbert.data, this.qOff[i]! * colbertDim));
  }
  static async create(qs: SyntheticQuery[]): Promise<GroundTruth> {
    return new GroundTruth(qs, await RowScorer.create(2));
  }
  async add(chunk: SyntheticDoc[]): Promise<void> {
    if (this.qs.length === 0) return;
    let t = 0;
    const tOff = chunk.map((d) => {
      const o = t;
      t += d.encoding.colbert.tokens;
      return o;
    });
    const b = new Float32Array(t * colbertDim);
    chunk.forEach((d, j) => b.set(d.encoding.colbert.data, tOff[j]! * colbertDim));
    const R = this.qRows.length / colbertDim;
    const c = await this.scorer.scores(this.qRows, R, b, t, colbertDim);
    this.qs.forEach((q, g) => {
      chunk.forEach((d, j) => {
        let sum = 0;
        for (let r = 0; r < q.colbert.tokens; r++) {
          const row = (this.qOff[g]! + r) * t;
          let m = -Infinity;
          for (let x = tOff[j]!; x < tOff[j]! + d.encoding.colbert.tokens; x++) if (c[row + x]! > m) m = c[row + x]!;
          sum += d.encoding.colbert.tokens === 0 ? 0 : m;
        }
        const colbert = Math.fround(sum / q.colbert.tokens);
        const fused = W.dense * normDot(q.dense, d.encoding.dense) + W.sparse * sparseDot(q.sparse, d.encoding.sparse) + W.colbert * colbert;
        this.scores[g]![d.index] = fused;
      });
    });
  }
  top(g: number): string[] {
    const s = this.scores[g]!;
    return Array.from(s.keys()).sort((a, b) => s[b]! - s[a]! || a - b).slice(0, K).map((i) => `doc-${i}`);
  }
  release(): Promise<void> {
    return this.scorer.release();
  }
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const f of readdirSync(dir)) {
    const st = statSync(join(dir, f));
    if (st.isFile()) total += st.size;
  }
  return total;
}

async function startPGlite(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ["node_modules/tsx/dist/cli.mjs", "bench/pglite-serve.ts", "--data-dir", dataDir], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      const m = /listening (\S+)/.exec(buf);
      if (m) resolve(m[1]!);
    });
    child.on("exit", (code) => reject(new Error(`bench/pglite-serve.ts exited with ${code}`)));
  });
  return { url, child };
}

interface Side {
  buildMs: number;
  maintenanceMs: number;
  queryMs: number[];
  candidatesMs: number[];
  scoreMs: number[];
  wire: number[];
  pool: number[];
  recall: number[];
  /** Per query, the search's stage timings (ms). */
  stages: Record<string, number>[];
}
const side = (): Side => ({ buildMs: 0, maintenanceMs: 0, queryMs: [], candidatesMs: [], scoreMs: [], wire: [], pool: [], recall: [], stages: [] });

async function main(): Promise<void> {
  const machine = machineInfo();
  log(`bench postgres: ${docs} docs, dense ${dim}-d, ColBERT ${colbertDim}-d rows ${tokens ? tokens.join("..") : "64..256"}, ${nQueries} queries (${nGt} with ground truth); ${machine.uptime}`);
  const gen = new SyntheticCorpus({ docs, dim, colbertDim, colbertTokens: tokens, seed: 7 });
  const queries = Array.from({ length: nQueries }, (_, q) => gen.query(q));
  const gt = await GroundTruth.create(queries.slice(0, nGt));

  const work = mkdtempSync(join(tmpdir(), "m3-bench-pg-"));
  let child: ChildProcess | undefined;
  let url = pgUrlArg;
  let serverKind = "external";
  if (url === undefined) {
    const s = await startPGlite(join(work, "pgdata"));
    child = s.child;
    url = s.url;
    serverKind = "PGlite 0.5.14 (Postgres in WASM, one thread), on disk, in a child process";
  }
  const table = `bench_${docs}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  for (const suffix of ["_sparse", "_colbert", "_meta", ""]) await admin.query(`DROP TABLE IF EXISTS "${table}${suffix}" CASCADE`);
  const backend = await M3PostgresBackend.connect({
    connectionString: url, table, fingerprint: gen.fingerprint, denseType, colbertCodec, hnsw: { efSearch }, poolSize: 2,
  });
  const versions = (await admin.query("SELECT version() AS v, (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgvector")).rows[0] as { v: string; pgvector: string };
  const embedded = withEmbedded ? await HybridIndex.create(gen.fingerprint, { colbertFactory: defaultColbertFactory }) : undefined;
  const embDir = join(work, "embedded");
  mkdirSync(embDir);

  const P = side();
  const E = side();
  let rows = 0;
  const t0 = now();
  // The batches, made (and given to the embedded index and the ground truth) outside the Postgres timer.
  let outside = 0;
  async function* batches(): AsyncGenerator<SyntheticDoc[]> {
    for (let i = 0; i < docs; i += batch) {
      const t = now();
      const chunk: SyntheticDoc[] = [];
      for (let j = i; j < Math.min(docs, i + batch); j++) chunk.push(gen.doc(j));
      for (const d of chunk) rows += d.encoding.colbert.tokens;
      if (embedded !== undefined) {
        const te = now();
        await embedded.upsert(chunk);
        if (i < FIRST_SAVE_AFTER && i + batch >= FIRST_SAVE_AFTER) await embedded.save(embDir);
        E.buildMs += now() - te;
      }
      await gt.add(chunk);
      if ((i / batch) % 20 === 0) {
        const done = Math.min(docs, i + batch);
        log(`  ${done}/${docs} docs${load === "upsert" ? `: postgres ${round(done / (P.buildMs / 1000), 1)} docs/s` : ""}${embedded ? `, embedded ${round(done / (E.buildMs / 1000), 1)} docs/s` : ""}, ${round((now() - t0) / 1000, 0)} s`);
      }
      outside += now() - t;
      yield chunk;
    }
  }
  if (load === "bulk") {
    const t = now();
    const r = await backend.bulkLoad(batches());
    P.buildMs = now() - t - outside;
    log(`  bulkLoad: ${r.added} added, indexes built after the load in ${round(r.indexMs / 1000, 1)} s`);
  } else {
    for await (const chunk of batches()) {
      const t = now();
      await backend.upsert(chunk);
      P.buildMs += now() - t;
    }
  }
  let t = now();
  await admin.query(`VACUUM ANALYZE "${table}", "${table}_sparse", "${table}_colbert"`);
  P.maintenanceMs = now() - t;
  if (embedded !== undefined) {
    t = now();
    await embedded.save(embDir);
    E.buildMs += now() - t;
  }
  log(`built: postgres ${round(P.buildMs / 1000, 1)} s (+ VACUUM ANALYZE ${round(P.maintenanceMs / 1000, 1)} s)${embedded ? `, embedded ${round(E.buildMs / 1000, 1)} s` : ""}`);

  const run = async (b: RetrievalBackend, s: Side, q: SyntheticQuery, g: number, timed: boolean) => {
    const t1 = now();
    const { hits, stats } = await searchWithStats(b, q, { k: K, candidates });
    const ms = now() - t1;
    if (!timed) return;
    s.queryMs.push(ms);
    s.candidatesMs.push(stats.timings.filter + stats.timings.dense + stats.timings.sparse);
    s.scoreMs.push(stats.timings.score + stats.timings.colbert);
    s.pool.push(stats.poolSize);
    s.stages.push({ ...stats.timings });
    if (stats.wireBytes !== undefined) s.wire.push(stats.wireBytes);
    if (g < nGt) {
      const want = new Set(gt.top(g));
      s.recall.push(hits.filter((h) => want.has(h.id)).length / K);
    }
  };
  for (let w = 0; w < WARMUP; w++) {
    await run(backend, P, queries[w % nQueries]!, -1, false);
    if (embedded) await run(embedded, E, queries[w % nQueries]!, -1, false);
  }
  for (let g = 0; g < nQueries; g++) {
    await run(backend, P, queries[g]!, g, true);
    if (embedded) await run(embedded, E, queries[g]!, g, true);
  }
  await gt.release();

  const info = await backend.info();
  const pgBytes = Object.values(info.bytes).reduce((a, b) => a + b, 0);
  const q0 = queries[0]!;
  const sentEstimate = 4 * dim + 12 * q0.sparse.indices.length + 4 * 128 + 16 * (candidates * 2 + 32);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const describeSide = <X extends object>(s: Side, bytes: number, extra: X) => ({
    buildSeconds: round(s.buildMs / 1000, 2),
    docsPerSecond: round(docs / (s.buildMs / 1000), 1),
    maintenanceSeconds: round(s.maintenanceMs / 1000, 2),
    queryMs: { ...summary(s.queryMs), candidatesP50: round(summary(s.candidatesMs).p50, 2), scoreP50: round(summary(s.scoreMs).p50, 2) },
    stagesP50: Object.fromEntries(Object.keys(s.stages[0] ?? {}).map((k) => [k, round(summary(s.stages.map((x) => x[k]!)).p50, 2)])),
    recallAt10: round(mean(s.recall), 4),
    poolSizeMean: round(mean(s.pool), 1),
    bytes,
    bytesPerDoc: round(bytes / docs, 0),
    ...extra,
  });
  const result = {
    machine,
    command: `npx tsx bench/postgres.ts ${process.argv.slice(2).join(" ")}`.trim(),
    corpus: { docs, dim, colbertDim, colbertRowsPerDoc: round(rows / docs, 1), queries: nQueries, groundTruthQueries: nGt, k: K, candidates, weights: W },
    postgres: describeSide(P, pgBytes, {
      server: serverKind,
      version: versions.v,
      pgvector: versions.pgvector,
      denseIndex: denseType,
      colbert: colbertCodec,
      load,
      hnsw: { m: 16, efConstruction: 64, efSearch },
      bytesByPart: info.bytes,
      wireBytesReceivedPerQuery: { ...summary(P.wire), mean: round(mean(P.wire), 0) },
      requestBytesPerQueryEstimate: sentEstimate,
    }),
    embedded: embedded === undefined ? undefined : describeSide(E, dirBytes(embDir), { colbertCodec: "int8 (default)", hnsw: { M: 16, efConstruction: 200, efSearch: 256 } }),
  };
  mkdirSync("bench/results", { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + "\n");

  const row = (name: string, r: { docsPerSecond: number; queryMs: { p50: number; p99: number }; recallAt10: number; bytesPerDoc: number } | undefined, wire: string): string[][] =>
    r === undefined
      ? []
      : [[name, String(r.docsPerSecond), String(round(r.queryMs.p50, 1)), String(round(r.queryMs.p99, 1)), String(r.recallAt10), String(Math.round(r.bytesPerDoc / 1024)), wire]];
  const lines = [
    ["backend", "build docs/s", "query p50 ms", "query p99 ms", "recall@10", "KiB/doc", "wire KiB/query"],
    ...row("postgres", result.postgres, String(round(result.postgres.wireBytesReceivedPerQuery.p50 / 1024, 1))),
    ...row("embedded", result.embedded, "-"),
  ];
  const widths = lines[0]!.map((_, c) => Math.max(...lines.map((r) => r[c]!.length)));
  log("");
  for (const r of lines) log(r.map((x, c) => (c === 0 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join("  "));
  log(`postgres: ${serverKind}; ${versions.v.split(" on ")[0]}, pgvector ${versions.pgvector}; VACUUM ANALYZE ${result.postgres.maintenanceSeconds} s; candidates p50 ${result.postgres.queryMs.candidatesP50} ms, scores p50 ${result.postgres.queryMs.scoreP50} ms; request ~${round(sentEstimate / 1024, 1)} KiB/query`);
  log(`stage p50 ms: postgres ${JSON.stringify(result.postgres.stagesP50)}${result.embedded ? `; embedded ${JSON.stringify(result.embedded.stagesP50)}` : ""}`);
  log(`wrote ${out}`);

  await backend.close();
  await admin.end();
  await embedded?.close();
  if (child) {
    child.kill("SIGTERM");
    await new Promise((r) => child!.once("exit", r));
  }
  rmSync(work, { recursive: true, force: true });
}

await main();
