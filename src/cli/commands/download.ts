/**
 * `m3 download [repo] [--variant fp32|int8|fp16] [--revision R] [--cache-dir D] [--local-files-only]`:
 * fetches the files a BGE-M3 layout needs into the huggingface_hub cache (shared with Python
 * tools), shows progress on stderr and prints the folder to load on stdout.
 */
import type { Command } from "commander";
import { resolvePretrained } from "../../hub/index.js";
import type { DownloadProgress, HubVariant } from "../../hub/index.js";
import { UsageError } from "../exit.js";
import { formatBytes, formatDuration, truncate } from "../format.js";
import { installInterrupt } from "../interrupt.js";

interface DownloadOpts {
  variant?: string;
  revision?: string;
  cacheDir?: string;
  localFilesOnly?: boolean;
  quiet?: boolean;
}

interface Stream {
  write(s: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

/** Where the command writes; tests pass their own. */
export interface DownloadIo {
  stdout: Stream;
  stderr: Stream;
  /** Hub URL override (tests); otherwise HF_ENDPOINT or https://huggingface.co. */
  endpoint?: string;
}

/** One progress line: file, bytes done / total, percent, rate, ETA. */
export function progressLine(p: DownloadProgress): string {
  const pct = p.total > 0 ? Math.floor((100 * p.bytes) / p.total) : 100;
  const eta = p.etaSeconds === undefined ? "--:--" : formatDuration(p.etaSeconds);
  return `${p.file}  ${formatBytes(p.bytes)} / ${formatBytes(p.total)}  ${pct}%  ${formatBytes(Math.round(p.rate))}/s  ETA ${eta}`;
}

/** Draws progress: one redrawn line on a TTY, else a line per finished file and per 10 % step. */
function progressPrinter(err: Stream): { onProgress: (p: DownloadProgress) => void; end: () => void } {
  let step = -1;
  let drawn = false;
  return {
    onProgress(p) {
      if (err.isTTY === true) {
        err.write(`\r${truncate(progressLine(p), Math.max(20, (err.columns ?? 100) - 1))}\x1b[K`);
        drawn = true;
        return;
      }
      const s = p.total > 0 ? Math.floor((10 * p.bytes) / p.total) : 10;
      if (p.fileDone || s > step) {
        step = s;
        err.write(`${progressLine(p)}\n`);
      }
    },
    end() {
      if (drawn) err.write("\n");
    },
  };
}

export async function runDownload(repo: string, opts: DownloadOpts, io: DownloadIo): Promise<string> {
  const variant = opts.variant ?? "fp32";
  if (!["fp32", "int8", "fp16"].includes(variant)) throw new UsageError(`--variant must be fp32, int8 or fp16; got "${variant}"`);
  const controller = new AbortController();
  const interrupt = installInterrupt(() => controller.abort());
  const printer = progressPrinter(io.stderr);
  try {
    const r = await resolvePretrained(repo, {
      variant: variant as HubVariant,
      ...(opts.revision !== undefined ? { revision: opts.revision } : {}),
      ...(opts.cacheDir !== undefined ? { cacheDir: opts.cacheDir } : {}),
      ...(io.endpoint !== undefined ? { endpoint: io.endpoint } : {}),
      localFilesOnly: opts.localFilesOnly === true,
      signal: controller.signal,
      ...(opts.quiet === true ? {} : { onProgress: printer.onProgress }),
    });
    printer.end();
    io.stdout.write(`${r.dir}\n`);
    return r.dir;
  } catch (err) {
    printer.end();
    throw err;
  } finally {
    interrupt.dispose();
  }
}

export function registerDownload(program: Command, io: DownloadIo = { stdout: process.stdout, stderr: process.stderr }): void {
  program
    .command("download")
    .description("download a BGE-M3 model from the Hugging Face Hub into the huggingface_hub cache; prints the folder to load")
    .argument("[repo]", "BAAI/bge-m3, Xenova/bge-m3, aapot/bge-m3-onnx or yuniko-software/bge-m3-onnx", "BAAI/bge-m3")
    .option("--variant <name>", "fp32, int8 or fp16 (int8/fp16 come from Xenova/bge-m3, the heads from BAAI/bge-m3)", "fp32")
    .option("--revision <rev>", "branch, tag or commit hash", "main")
    .option("--cache-dir <dir>", "hub cache folder (default: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)")
    .option("--local-files-only", "never contact the Hub; fail unless the files are cached (like HF_HUB_OFFLINE=1)")
    .option("-q, --quiet", "no progress")
    .addHelpText(
      "after",
      `
Only the files the model layout needs are fetched; interrupted downloads resume on the next run.
Environment: HF_ENDPOINT, HF_TOKEN (gated/private repos), HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE.

Example:
  m3 download                          # BAAI/bge-m3, fp32 (~2.3 GB)
  m3 download BAAI/bge-m3 --variant int8
  m3 index docs/ --model "$(m3 download -q)" --out ./my-index`,
    )
    .action(async (repo: string, opts: DownloadOpts) => {
      await runDownload(repo, opts, io);
    });
}
