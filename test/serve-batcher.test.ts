/**
 * The server's EncodeScheduler on its own, driven by gates (never by time: the window is an
 * hour, so only the rules below can send a group): an idle encoder takes a request at once
 * when nothing else is arriving, waits for requests still being tokenized, and does not wait
 * for one that is refused; one call in flight, the next group filling behind it.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { M3Encoder } from "../src/encode/encoder.js";
import { EncodeScheduler } from "../src/serve/batcher.js";
import { ServerMetrics } from "../src/serve/metrics.js";
import { resolveServerOptions } from "../src/serve/options.js";

const MODEL = join(import.meta.dirname, "fixtures/models/encoder-only");
let encoder: M3Encoder;

beforeAll(async () => {
  encoder = await M3Encoder.load({ modelPath: MODEL });
});
afterAll(async () => {
  await encoder?.dispose();
});

interface Rig {
  scheduler: EncodeScheduler;
  /** Texts of each encoder call, in call order. */
  calls: string[][];
  /** Holds the tokenization of `text` until `release(text)`. */
  hold: (text: string) => void;
  release: (text: string) => void;
  /** Holds encoder calls until `openEncoder()`. */
  openEncoder: () => void;
}

function rig(limits: { maxTokensPerText?: number } = {}, holdEncoder = false): Rig {
  const held = new Map<string, { gate: Promise<void>; open: () => void }>();
  const names = new Map<string, string>();
  const calls: string[][] = [];
  let openEncoder!: () => void;
  const encoderGate = holdEncoder ? new Promise<void>((r) => (openEncoder = r)) : Promise.resolve();
  if (!holdEncoder) openEncoder = () => undefined;
  const enc = Object.create(encoder) as M3Encoder;
  enc.tokenize = async (texts, options) => {
    for (const t of texts) await held.get(t)?.gate;
    const rows = await encoder.tokenize(texts, options);
    rows.forEach((r, i) => names.set(r.join(","), texts[i]!));
    return rows;
  };
  enc.encodeTokens = async (rows, options) => {
    calls.push(rows.map((r) => names.get(r.join(","))!));
    await encoderGate;
    return encoder.encodeTokens(rows, options);
  };
  const o = resolveServerOptions({ encoder: enc, limits });
  const metrics = new ServerMetrics(() => ({ queueTokens: 0, queueRequests: 0, inFlight: 0, ready: true }));
  const scheduler = new EncodeScheduler(enc, o.limits, { enabled: true, windowMs: 3_600_000, batchTokens: 16384, maxBatchSize: 64 }, metrics);
  return {
    scheduler,
    calls,
    hold: (t) => {
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      held.set(t, { gate, open });
    },
    release: (t) => held.get(t)!.open(),
    openEncoder,
  };
}

const DENSE = { dense: true, sparse: false, colbert: false };

describe("EncodeScheduler", () => {
  it("an idle encoder with nothing arriving takes a request at once (no window at low load)", async () => {
    const r = rig();
    const out = await r.scheduler.encode(["alone"], DENSE);
    expect(out[0]!.dense!.length).toBeGreaterThan(0);
    expect(r.calls).toEqual([["alone"]]);
  });

  it("an idle encoder waits for a request still being tokenized, then takes both in one call", async () => {
    const r = rig();
    r.hold("slow to tokenize");
    const a = r.scheduler.encode(["slow to tokenize"], DENSE);
    const b = r.scheduler.encode(["quick"], DENSE);
    await vi.waitFor(() => expect(r.scheduler.queuedRequests).toBe(1)); // b admitted and waiting
    expect(r.calls).toEqual([]);
    r.release("slow to tokenize");
    const [ea, eb] = await Promise.all([a, b]);
    expect(r.calls).toEqual([["quick", "slow to tokenize"]]);
    const ref = await encoder.encode(["slow to tokenize", "quick"], DENSE);
    expect(Array.from(ea[0]!.dense!)).toEqual(Array.from(ref[0]!.dense!));
    expect(Array.from(eb[0]!.dense!)).toEqual(Array.from(ref[1]!.dense!));
  });

  it("a request that is refused after tokenizing does not keep the waiting group back", async () => {
    const r = rig({ maxTokensPerText: 8 });
    const long = "one two three four five six seven eight nine ten eleven twelve";
    r.hold(long);
    const a = r.scheduler.encode([long], DENSE).catch((e: unknown) => e);
    const b = r.scheduler.encode(["short"], DENSE);
    await vi.waitFor(() => expect(r.scheduler.queuedRequests).toBe(1));
    expect(r.calls).toEqual([]);
    r.release(long);
    expect(await a).toMatchObject({ code: "TOO_LARGE" });
    await b;
    expect(r.calls).toEqual([["short"]]);
  });

  it("one call in flight; every request that comes meanwhile goes in the next call", async () => {
    const r = rig({}, true);
    const first = r.scheduler.encode(["first"], DENSE);
    await vi.waitFor(() => expect(r.calls.length).toBe(1));
    const rest = [["x"], ["y", "z"], ["w"]].map((t) => r.scheduler.encode(t, DENSE));
    await vi.waitFor(() => expect(r.scheduler.queuedRequests).toBe(4));
    expect(r.calls.length).toBe(1);
    r.openEncoder();
    await Promise.all([first, ...rest]);
    expect(r.calls.length).toBe(2);
    expect(r.calls[1]!.sort()).toEqual(["w", "x", "y", "z"]);
  });
});
