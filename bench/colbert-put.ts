/**
 * ColBERT `put` cost: codec encode, crc32 and the whole `put` (in memory and disk-backed).
 *
 *   npx tsx bench/colbert-put.ts                 # 2000 docs of 160 tokens × 1024 dims
 *   options: --docs N --tokens N --dim N --pool N (distinct matrices, cycled) --seed N --reps N
 *
 * Documents: `pool` distinct matrices of unit-normalised standard-normal rows (seeded), cycled
 * over `docs` puts (generating 2000 × 160 × 1024 floats up front would take 1.3 GB and longer
 * than the puts themselves). Timings are the best of `reps` passes for the kernels (encode,
 * crc32) and one pass for the stores; wall ms/doc and CPU ms/doc (user + system, steadier on a
 * shared machine). MB/s: float32 input bytes for encode and put, payload bytes for crc32.
 * Prints a markdown table on stdout; progress on stderr.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { createColbertStore } from "../src/index/colbert/index.js";
import type { ColbertCodecName } from "../src/index/colbert/index.js";
import { createCodec } from "../src/multivector/codec/codecs.js";
import { crc32, crc32Js } from "../src/util/crc32.js";
import { newRecord, sealRecord } from "../src/index/colbert/record.js";
import { checkMatrix } from "../src/index/colbert/validate.js";
import type { MultiVector } from "../src/types.js";
import { log, machineInfo, now, parseArgs } from "./lib/machine.js";
import { Rng } from "./lib/rng.js";

const args = parseArgs(process.argv.slice(2));
if (args.help === true) {
  process.stdout.write("npx tsx bench/colbert-put.ts [--docs 2000] [--tokens 160] [--dim 1024] [--pool 32] [--seed 1] [--reps 3]\n");
  process.exit(0);
}
const num = (k: string, d: number) => (typeof args[k] === "string" ? Number(args[k]) : d);
const nDocs = num("docs", 2000);
const tokens = num("tokens", 160);
const dim = num("dim", 1024);
const poolSize = Math.min(num("pool", 32), nDocs);
const seed = num("seed", 1);
const reps = num("reps", 3);

const CODECS: ColbertCodecName[] = ["float32", "float16", "int8", "binary"];

function makeMatrix(rng: Rng): MultiVector {
  const data = new Float32Array(tokens * dim);
  for (let o = 0; o < data.length; o += dim) {
    let s = 0;
    for (let k = 0; k < dim; k++) {
      const x = rng.normal();
      data[o + k] = x;
      s += x * x;
    }
    const inv = 1 / Math.sqrt(s);
    for (let k = 0; k < dim; k++) data[o + k] = data[o + k]! * inv;
  }
  return { data, tokens, dim };
}

/** The byte-at-a-time table CRC-32 (the textbook version), for comparison. */
const BYTE_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();
function crc32Bytewise(data: Uint8Array): number {
  let c = -1;
  for (let i = 0; i < data.length; i++) c = BYTE_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

interface Row { what: string; wallMs: number; cpuMs: number; bytes: number; docs: number }
const rows: Row[] = [];

function cpuSince(u: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(u);
  return (d.user + d.system) / 1000;
}

/** Best-of-`reps` timing of `fn(i)` for i in [0, docs). */
function timeLoop(what: string, bytesPerDoc: number, fn: (i: number) => void): void {
  fn(0); // warm up the code path
  let best: { wall: number; cpu: number } | undefined;
  for (let r = 0; r < reps; r++) {
    const u = process.cpuUsage();
    const t = now();
    for (let i = 0; i < nDocs; i++) fn(i);
    const wall = now() - t, cpu = cpuSince(u);
    if (best === undefined || wall < best.wall) best = { wall, cpu };
  }
  rows.push({ what, wallMs: best!.wall, cpuMs: best!.cpu, bytes: bytesPerDoc * nDocs, docs: nDocs });
  log(`${what}: ${(best!.wall / nDocs).toFixed(4)} ms/doc`);
}

async function timePuts(what: string, put: (i: number) => Promise<void>): Promise<void> {
  const u = process.cpuUsage();
  const t = now();
  for (let i = 0; i < nDocs; i++) await put(i);
  rows.push({ what, wallMs: now() - t, cpuMs: cpuSince(u), bytes: tokens * dim * 4 * nDocs, docs: nDocs });
  log(`${what}: ${((now() - t) / nDocs).toFixed(4)} ms/doc`);
}

async function main(): Promise<void> {
  const m = machineInfo();
  log(`${nDocs} docs × ${tokens} tokens × ${dim} dims (${poolSize} distinct matrices), best of ${reps}; load ${m.loadavg.map((x) => x.toFixed(2)).join(" ")}`);
  const rng = new Rng(seed);
  const pool = Array.from({ length: poolSize }, () => makeMatrix(rng));
  const doc = (i: number): MultiVector => pool[i % poolSize]!;
  const inBytes = tokens * dim * 4;

  for (const name of CODECS) {
    const codec = createCodec(name, dim);
    const out = new Uint8Array(codec.payloadBytes(tokens));
    timeLoop(`encode ${name}`, inBytes, (i) => codec.encode(doc(i).data, tokens, out));
  }

  const int8 = createCodec("int8", dim);
  const payloads = pool.map((p) => {
    const out = new Uint8Array(int8.payloadBytes(tokens));
    int8.encode(p.data, tokens, out);
    return out;
  });
  const pBytes = payloads[0]!.byteLength;
  let sink = 0;
  timeLoop("crc32 (native zlib, used when present)", pBytes, (i) => { sink ^= crc32(payloads[i % poolSize]!); });
  timeLoop("crc32Js (pure-JS fallback)", pBytes, (i) => { sink ^= crc32Js(payloads[i % poolSize]!); });
  timeLoop("crc32 byte-at-a-time table (reference)", pBytes, (i) => { sink ^= crc32Bytewise(payloads[i % poolSize]!); });
  timeLoop("record build: newRecord + int8 encode + sealRecord", inBytes, (i) => {
    const { bytes, payload } = newRecord(i, tokens, int8.payloadBytes(tokens));
    int8.encode(doc(i).data, tokens, payload);
    sealRecord(bytes);
    sink ^= bytes[16]!;
  });

  timeLoop("checkMatrix (put's input check)", inBytes, (i) => { checkMatrix("matrix", doc(i), dim); });

  const mem = createColbertStore({ dim });
  await timePuts("put int8, in memory", (i) => mem.put(i, doc(i)));
  await mem.close();

  const dir = mkdtempSync(join(os.tmpdir(), "colbert-put-"));
  try {
    const disk = createColbertStore({ dim });
    await disk.persist(dir, 0); // disk-backed from here on: puts append to the data file
    await timePuts("put int8, disk-backed (after persist)", (i) => disk.put(i, doc(i)));
    const t = now();
    await disk.persist(dir, 1);
    log(`persist (fsync + offsets) after ${nDocs} disk puts: ${(now() - t).toFixed(1)} ms`);
    await disk.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const lines = [
    `ColBERT put — ${nDocs} docs × ${tokens} tokens × ${dim} dims, node ${process.version}, ${m.cpuModel}, ${m.nproc} cores, load ${m.loadavg[0]!.toFixed(2)} at start`,
    "",
    "| step | wall ms/doc | CPU ms/doc | MB/s (wall) |",
    "|---|---:|---:|---:|",
    ...rows.map((r) => `| ${r.what} | ${(r.wallMs / r.docs).toFixed(4)} | ${(r.cpuMs / r.docs).toFixed(4)} | ${(r.bytes / 1e6 / (r.wallMs / 1000)).toFixed(0)} |`),
    "",
    `MB/s: float32 input (${(inBytes / 1e6).toFixed(3)} MB/doc) for encode, record build and put; int8 payload (${(pBytes / 1e6).toFixed(3)} MB/doc) for crc32. (checksum sink ${sink & 1})`,
  ];
  process.stdout.write(lines.join("\n") + "\n");
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
