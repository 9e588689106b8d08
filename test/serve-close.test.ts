/**
 * Graceful close under load, driven by a gate in front of the encoder (never by time): a
 * request being encoded and one queued behind it are both answered 200 after `close()` is
 * called; new connections are refused meanwhile; `close()` resolves only once they are answered.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createM3Server, M3Encoder } from "../src/index.js";

const MODEL = join(import.meta.dirname, "fixtures/models/encoder-only");
let encoder: M3Encoder;

beforeAll(async () => {
  encoder = await M3Encoder.load({ modelPath: MODEL });
});
afterAll(async () => {
  await encoder?.dispose();
});

describe("close() under load", () => {
  it("answers the request in the encoder and the queued one, refuses new connections, then resolves", async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let calls = 0;
    const enc = Object.create(encoder) as M3Encoder;
    enc.encodeTokens = async (rows, options) => {
      calls++;
      await gate;
      return encoder.encodeTokens(rows, options);
    };
    const s = await createM3Server({ encoder: enc, port: 0 });
    await s.ready();
    const url = s.url;
    const post = (input: string[]): Promise<Response> => fetch(url + "/v1/embeddings", { method: "POST", headers: { "content-type": "application/json", connection: "close" }, body: JSON.stringify({ input, encoding_format: "float" }) });
    try {
      const running = post(["in the encoder"]);
      await vi.waitFor(() => expect(calls).toBe(1));
      const queued = post(["queued behind it", "and another"]);
      await vi.waitFor(() => expect(s.metrics.render()).toMatch(/m3_queue_requests 2/));
      let closed = false;
      const closing = s.close().then(() => (closed = true));
      await expect(fetch(url + "/health")).rejects.toThrow();
      expect(closed).toBe(false);
      open();
      const [a, b] = await Promise.all([running, queued]);
      expect(a.status).toBe(200);
      expect(b.status).toBe(200);
      const ref = await encoder.encode(["queued behind it", "and another"], { sparse: false, colbert: false });
      const got = ((await b.json()) as { data: Array<{ embedding: number[] }> }).data;
      got.forEach((d, i) => d.embedding.forEach((x, j) => expect(x).toBeCloseTo(ref[i]!.dense![j]!, 6)));
      await closing;
      expect(closed).toBe(true);
      expect(calls).toBe(2);
    } finally {
      open();
      await s.close();
    }
  });
});
