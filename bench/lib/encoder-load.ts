/**
 * The encoder bench's `load` part: one graph loaded in a fresh process (its own RSS), then one
 * 16-token query (`<s>`/`</s>` included, all three outputs) encoded `runs` times.
 *   loadSeconds      M3Encoder.load, fused-attention rewrite included
 *   rssAfterLoadMiB  RSS after the load and three warm-up queries (what the loaded model costs)
 *   peakRssMiB       the process's peak RSS, load and queries included
 *   queryP50Ms/P90   encode([query]) with all three outputs
 * bench/encoder.ts runs one child per configuration (variant × fused or not).
 */
import { textOfTokens } from "./encoder-parts.js";
import { log, now, peakRssMiB, percentile, round, rssMiB } from "./machine.js";

export interface LoadRow {
  variant: "fp32" | "int8";
  fused: boolean;
  fusedBlocks: number;
  tokens: number;
  loadSeconds: number;
  rssAfterLoadMiB: number;
  peakRssMiB: number;
  queryP50Ms: number;
  queryP90Ms: number;
  runs: number;
}

export async function loadPart(dir: string, threads: number, variant: "fp32" | "int8", fused: boolean, runs: number): Promise<LoadRow> {
  const { M3Encoder } = await import("../../src/encode/encoder.js");
  const t0 = now();
  const e = await M3Encoder.load({ modelPath: dir, variant, intraOpNumThreads: threads, fusedAttention: fused });
  const loadSeconds = (now() - t0) / 1000;
  try {
    const q = await textOfTokens(e, 16);
    for (let i = 0; i < 3; i++) await e.encode([q]);
    const rssAfterLoadMiB = rssMiB();
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = now();
      await e.encode([q]);
      times.push(now() - t);
    }
    const row: LoadRow = {
      variant,
      fused,
      fusedBlocks: e.info!.fusedAttentionBlocks,
      tokens: (await e.tokenize([q]))[0]!.length,
      loadSeconds: round(loadSeconds, 2),
      rssAfterLoadMiB,
      peakRssMiB: peakRssMiB(),
      queryP50Ms: round(percentile(times, 50), 1),
      queryP90Ms: round(percentile(times, 90), 1),
      runs,
    };
    log(`load ${variant} ${fused ? "fused" : "unfused"}: ${row.loadSeconds} s, rss ${rssAfterLoadMiB} MiB after load (peak ${row.peakRssMiB}); 16-token query p50 ${row.queryP50Ms} ms, p90 ${row.queryP90Ms} ms`);
    return row;
  } finally {
    await e.dispose();
  }
}
