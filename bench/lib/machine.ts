/** Machine description, load, memory and timing helpers shared by the benchmarks. */
import { execSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  cpuFlags: string[];
  memTotalGiB: number;
  node: string;
  platform: string;
  onnxruntimeNode: string;
  /** `uptime` output and the 1/5/15-minute load averages when the run started. */
  uptime: string;
  loadavg: number[];
  date: string;
}

function pkgVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

export function machineInfo(): MachineInfo {
  let nproc = os.availableParallelism();
  try {
    nproc = Number(execSync("nproc", { encoding: "utf8" }).trim()) || nproc;
  } catch {
    /* keep availableParallelism */
  }
  let flags: string[] = [];
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => l.startsWith("flags"));
    const all = new Set((line ?? "").split(":")[1]?.trim().split(/\s+/) ?? []);
    flags = ["avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8"].filter((f) => all.has(f));
  } catch {
    /* not Linux */
  }
  let uptime = "";
  try {
    uptime = execSync("uptime", { encoding: "utf8" }).trim();
  } catch {
    uptime = `load average: ${os.loadavg().map((x) => x.toFixed(2)).join(", ")}`;
  }
  return {
    nproc,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    cpuFlags: flags,
    memTotalGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${os.release()}`,
    onnxruntimeNode: pkgVersion("onnxruntime-node"),
    uptime,
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    date: new Date().toISOString(),
  };
}

/** Peak resident set size of this process so far, in MiB. */
export function peakRssMiB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

export function rssMiB(): number {
  return Math.round(process.memoryUsage().rss / 2 ** 20);
}

export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Percentile (nearest rank) of a sample, in its units. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export function summary(xs: number[]): { n: number; mean: number; p50: number; p99: number; max: number } {
  return {
    n: xs.length,
    mean: xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length),
    p50: percentile(xs, 50),
    p99: percentile(xs, 99),
    max: Math.max(...xs),
  };
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Parses `--key value` / `--flag` arguments. */
export function parseArgs(argv: string[]): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--")) continue;
    const key = a.slice(2);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith("--")) out[key] = true;
    else {
      out[key] = next;
      i++;
    }
  }
  return out;
}

export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}
