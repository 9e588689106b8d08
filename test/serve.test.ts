/**
 * `createM3Server` on 127.0.0.1 with the committed tiny model: real clients (the `openai` npm
 * package, LangChain's OpenAIEmbeddings, fetch, raw sockets), every endpoint against the library
 * in process, hostile input, the API key, and the bounded queue (429, recovery, cancellation),
 * driven by a gate in front of the encoder, never by sleeps.
 */
import { OpenAIEmbeddings } from "@langchain/openai";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createM3Server, M3Embeddings, M3Encoder, M3HybridStore, type M3Server } from "../src/index.js";

const MODEL = join(import.meta.dirname, "fixtures/models/encoder-only");
const KEY = "test-key-0123456789";
const TEXTS = ["Why does bread dough rise?", "Yeast eats sugar and makes gas.", "The quick brown fox", "", "naïve café 東京"];

let encoder: M3Encoder;
let server: M3Server;
let dir: string;
let store: M3HybridStore;

function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(server.url + path, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${KEY}`, ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
}

async function errorOf(r: Response): Promise<{ status: number; code: string; message: string }> {
  const j = (await r.json()) as { error: { code: string; message: string } };
  return { status: r.status, ...j.error };
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(tol);
}

beforeAll(async () => {
  encoder = await M3Encoder.load({ modelPath: MODEL });
  dir = mkdtempSync(join(tmpdir(), "m3-serve-"));
  const s = await M3HybridStore.create(encoder);
  await s.addDocuments(TEXTS.filter(Boolean).map((t, i) => ({ id: `d${i}`, pageContent: t, metadata: { i } })));
  await s.save(join(dir, "idx"));
  await s.close();
  store = await M3HybridStore.load(join(dir, "idx"), encoder);
  server = await createM3Server({ encoder, port: 0, index: join(dir, "idx"), apiKey: KEY, writable: true, limits: { retryAfterSeconds: 0 } });
  await server.ready();
});

afterAll(async () => {
  await server?.close();
  await store?.close();
  await encoder?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe("OpenAI-compatible /v1/embeddings", () => {
  it("the openai npm client gets the library's dense vectors (base64 by default, and float)", async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0 });
    const ref = await encoder.encode(TEXTS, { sparse: false, colbert: false });
    const b64 = await client.embeddings.create({ model: "bge-m3", input: TEXTS });
    const flt = await client.embeddings.create({ model: "bge-m3", input: TEXTS, encoding_format: "float" });
    expect(b64.data.map((d) => d.index)).toEqual([0, 1, 2, 3, 4]);
    b64.data.forEach((d, i) => close(d.embedding, ref[i]!.dense!, 1e-6));
    flt.data.forEach((d, i) => close(d.embedding, ref[i]!.dense!, 1e-6));
    expect(b64.usage.prompt_tokens).toBe(ref.reduce((s, e) => s + e.tokenCount, 0));
    const one = await client.embeddings.create({ model: "bge-m3", input: "The quick brown fox" });
    close(one.data[0]!.embedding, ref[2]!.dense!, 1e-6);
  });

  it("LangChain's OpenAIEmbeddings with configuration.baseURL equals M3Embeddings", async () => {
    const lc = new OpenAIEmbeddings({ model: "bge-m3", apiKey: KEY, configuration: { baseURL: `${server.url}/v1` }, maxRetries: 0 });
    const local = new M3Embeddings({ modelPath: MODEL });
    try {
      const docs = TEXTS.filter(Boolean);
      const [remote, inproc] = await Promise.all([lc.embedDocuments(docs), local.embedDocuments(docs)]);
      remote.forEach((v, i) => close(v, inproc[i]!, 1e-6));
      close(await lc.embedQuery("bread"), await local.embedQuery("bread"), 1e-6);
    } finally {
      await local.dispose();
    }
  });

  it("refuses dimensions other than the model's, and token-id inputs", async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0 });
    await expect(client.embeddings.create({ model: "bge-m3", input: "x", dimensions: 8 })).rejects.toMatchObject({ status: 400 });
    const e = await errorOf(await post("/v1/embeddings", { input: [[1, 2, 3]] }));
    expect(e).toMatchObject({ status: 400, code: "INVALID_ARGUMENT" });
    expect(e.message).toMatch(/Token-id inputs/);
  });
});

describe("/v1/encode, /v1/rerank, /v1/search equal the library in process", () => {
  it("/v1/encode: dense, sparse (indices and lexical_weights), colbert rows, base64 bit-exact", async () => {
    const ref = await encoder.encode(TEXTS, { maxLength: 16 });
    const j = (await (await post("/v1/encode", { input: TEXTS, max_length: 16 })).json()) as {
      data: Array<{ tokens: number; dense: number[]; sparse: { indices: number[]; values: number[] }; colbert: number[][] }>;
    };
    j.data.forEach((d, i) => {
      const r = ref[i]!;
      expect(d.tokens).toBe(r.tokenCount);
      close(d.dense, r.dense!);
      expect(d.sparse.indices).toEqual(Array.from(r.sparse!.indices));
      close(d.sparse.values, r.sparse!.values);
      expect(d.colbert.length).toBe(r.colbert!.tokens);
      close(d.colbert.flat(), r.colbert!.data);
    });
    const lw = (await (await post("/v1/encode", { input: TEXTS[0], sparse_format: "lexical_weights", dense: false, colbert: false })).json()) as { data: Array<Record<string, unknown>> };
    expect(lw.data[0]!["dense"]).toBeUndefined();
    const w = lw.data[0]!["sparse"] as Record<string, number>;
    expect(Object.keys(w).map(Number).sort((a, b) => a - b)).toEqual(Array.from(ref[0]!.sparse!.indices));
    const b = (await (await post("/v1/encode", { input: [TEXTS[1]], encoding_format: "base64" })).json()) as { data: Array<{ dense: string }> };
    const dense = new Float32Array(new Uint8Array(Buffer.from(b.data[0]!.dense, "base64")).buffer);
    close(dense, (await encoder.encode([TEXTS[1]!]))[0]!.dense!, 1e-6);
  });

  it("/v1/rerank: sorted fused scores equal computeScore, top_n and return_documents", async () => {
    const local = new M3Embeddings({ modelPath: MODEL });
    try {
      const q = "bread yeast";
      const docs = TEXTS.filter(Boolean);
      const ref = await local.computeScore(docs.map((d) => [q, d] as [string, string]));
      const j = (await (await post("/v1/rerank", { query: q, documents: docs, top_n: 3, return_documents: true })).json()) as {
        results: Array<{ index: number; relevance_score: number; scores: { dense: number; sparse: number; colbert: number }; document: { text: string } }>;
      };
      const order = ref.map((s, i) => ({ i, s: s.combined })).sort((a, b) => b.s - a.s || a.i - b.i);
      expect(j.results.map((r) => r.index)).toEqual(order.slice(0, 3).map((o) => o.i));
      for (const r of j.results) {
        expect(r.relevance_score).toBeCloseTo(ref[r.index]!.combined, 5);
        expect(r.scores.colbert).toBeCloseTo(ref[r.index]!.colbert, 5);
        expect(r.document.text).toBe(docs[r.index]);
      }
    } finally {
      await local.dispose();
    }
  });

  it("/v1/search: the same hits and scores as M3HybridStore.search, filters and modes included", async () => {
    for (const opts of [{}, { k: 2, filter: { i: { $gte: 1 } } }, { modes: ["dense", "sparse"] as ("dense" | "sparse")[], fusion: "rrf" as const }]) {
      const ref = await store.search("bread", opts);
      const j = (await (await post("/v1/search", { query: "bread", ...opts })).json()) as { hits: Array<{ id: string; score: number; page_content: string; metadata: unknown }> };
      expect(j.hits.map((h) => h.id)).toEqual(ref.map((h) => h.id));
      j.hits.forEach((h, i) => {
        expect(h.score).toBeCloseTo(ref[i]!.score, 5);
        expect(h.page_content).toBe(ref[i]!.document.pageContent);
        expect(h.metadata).toEqual(ref[i]!.document.metadata);
      });
    }
  });

  it("/v1/documents writes need the key; they are searchable and saved; delete removes them", async () => {
    expect(await errorOf(await post("/v1/documents", { documents: [{ page_content: "x" }] }, { authorization: "" }))).toMatchObject({ status: 401, code: "UNAUTHORIZED" });
    const up = (await (await post("/v1/documents", { documents: [{ id: "new1", page_content: "sourdough starter feeding", metadata: { tag: "new" } }] })).json()) as { ids: string[] };
    expect(up.ids).toEqual(["new1"]);
    const j = (await (await post("/v1/search", { query: "sourdough starter", filter: { tag: "new" } })).json()) as { hits: Array<{ id: string }> };
    expect(j.hits.map((h) => h.id)).toEqual(["new1"]);
    const reloaded = await M3HybridStore.load(join(dir, "idx"), encoder);
    expect(await reloaded.get("new1")).toMatchObject({ pageContent: "sourdough starter feeding" });
    await reloaded.close();
    expect(await (await post("/v1/documents/delete", { ids: ["new1"] })).json()).toEqual({ deleted: 1 });
  });

  it("/health, /ready, /v1/models, /v1/info and /metrics (Prometheus text, behind the key)", async () => {
    expect(await (await fetch(`${server.url}/health`)).json()).toEqual({ status: "ok" });
    expect((await fetch(`${server.url}/ready`)).status).toBe(200);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    const m = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text();
    for (const name of ["m3_requests_total", "m3_errors_total", "m3_queue_tokens", "m3_batch_texts_bucket", "m3_encoded_tokens_total", "m3_request_duration_seconds_bucket"]) expect(m).toContain(name);
    const info = (await (await fetch(`${server.url}/v1/info`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as { fingerprint: unknown };
    expect(info.fingerprint).toEqual(await encoder.fingerprint());
  });
});

describe("hostile input", () => {
  it("malformed JSON, wrong types, unknown fields, deep nesting, non-object bodies: 400 naming the problem, no stack", async () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ["/v1/encode", "{not json", /not valid JSON/],
      ["/v1/encode", "[1,2]", /one JSON object/],
      ["/v1/encode", { input: 5 }, /input must be a string/],
      ["/v1/encode", { input: ["a", null] }, /input\[1\] must be a string/],
      ["/v1/encode", { input: ["a"], dense: "yes" }, /dense must be true or false/],
      ["/v1/encode", { input: ["a"], inptu: 1 }, /does not take the field\(s\) "inptu"/],
      ["/v1/rerank", { query: "", documents: ["a"] }, /query must be a non-empty string/],
      ["/v1/search", { query: "a", k: -1 }, /k must be an integer/],
      ["/v1/search", { query: "a", modes: ["dense", "nope"] }, /modes must be/],
      ["/v1/encode", "[".repeat(100_000) + "]".repeat(100_000), /nested deeper than limits.maxJsonDepth \(32\)/],
    ];
    for (const [path, body, msg] of cases) {
      const e = await errorOf(await post(path, body));
      expect(e.status, `${path} ${String(body).slice(0, 30)}`).toBe(400);
      expect(e.message).toMatch(msg);
      expect(e.message).not.toMatch(/\n\s+at /);
    }
    expect((await errorOf(await post("/v1/encode", { input: ["a"] }, { "content-type": "text/plain" }))).status).toBe(415);
    expect((await errorOf(await fetch(`${server.url}/v1/nope`))).status).toBe(404);
    expect((await errorOf(await fetch(`${server.url}/v1/encode`))).status).toBe(405);
  });

  it("missing or wrong API key: 401 UNAUTHORIZED on every endpoint but /health and /ready", async () => {
    for (const auth of ["", "Bearer wrong-key-0123456789", `Basic ${KEY}`, `Bearer ${KEY}x`]) {
      expect(await errorOf(await post("/v1/embeddings", { input: "a" }, { authorization: auth }))).toMatchObject({ status: 401, code: "UNAUTHORIZED" });
    }
  });

  it("a huge body is 413 TOO_LARGE naming limits.maxBodyBytes; too many texts / tokens name their limits", async () => {
    const s = await createM3Server({ encoder, port: 0, limits: { maxBodyBytes: 10_000, maxTexts: 4, maxTokensPerText: 8, maxRequestTokens: 20, queueTokens: 20 } });
    try {
      const p = (path: string, body: unknown): Promise<Response> => fetch(s.url + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      const big = await errorOf(await p("/v1/encode", { input: ["x".repeat(20_000)] }));
      expect(big).toMatchObject({ status: 413, code: "TOO_LARGE" });
      expect(big.message).toMatch(/limits.maxBodyBytes \(10000 bytes\)/);
      expect(await errorOf(await p("/v1/encode", { input: ["a", "b", "c", "d", "e"] }))).toMatchObject({ status: 413, message: expect.stringMatching(/limits.maxTexts \(4\)/) });
      expect(await errorOf(await p("/v1/encode", { input: ["one two three four five six seven eight nine ten"] }))).toMatchObject({ status: 400, message: expect.stringMatching(/limits.maxTokensPerText \(8\)/) });
      expect(await errorOf(await p("/v1/encode", { input: ["a b c d", "e f g h", "i j k l", "m n o p"] }))).toMatchObject({ status: 413, message: expect.stringMatching(/limits.maxRequestTokens \(20\)/) });
      expect((await p("/v1/encode", { input: ["short"] })).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it("slow clients: a body that stalls gets 408 TIMEOUT, headers that never end are cut off", async () => {
    const s = await createM3Server({ encoder, port: 0, limits: { bodyTimeoutMs: 200, headersTimeoutMs: 300 } });
    try {
      const raw = (text: string): Promise<string> =>
        new Promise((resolve) => {
          const sock = connect(s.port, "127.0.0.1", () => sock.write(text));
          let got = "";
          sock.on("data", (d) => (got += d.toString()));
          sock.on("close", () => resolve(got));
          sock.on("error", () => undefined);
        });
      const body = await raw("POST /v1/encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"input\":");
      expect(body).toMatch(/^HTTP\/1\.1 408/);
      expect(body).toContain('"code":"TIMEOUT"');
      const headers = await raw("POST /v1/encode HTTP/1.1\r\nHost: x\r\nX-Slow: ");
      expect(headers === "" || /^HTTP\/1\.1 408/.test(headers)).toBe(true);
      expect((await fetch(`${s.url}/health`)).status).toBe(200); // still serving
    } finally {
      await s.close();
    }
  });

  it("a non-loopback bind without an API key, or writable without one, is refused", async () => {
    await expect(createM3Server({ encoder, host: "0.0.0.0", port: 0 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(createM3Server({ encoder, port: 0, writable: true })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});

/** An encoder whose `encode` waits for a gate: the real encoder behind it, held while the test floods. */
function gatedEncoder(): { enc: M3Encoder; calls: string[][]; open: () => void; entered: Promise<void> } {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let entered!: () => void;
  const enteredP = new Promise<void>((r) => (entered = r));
  const calls: string[][] = [];
  const enc = Object.create(encoder) as M3Encoder;
  enc.encode = async (texts, options) => {
    calls.push(texts);
    entered();
    await gate;
    return encoder.encode(texts, options);
  };
  return { enc, calls, open, entered: enteredP };
}

describe("back-pressure", () => {
  it("a flood past queueTokens gets 429 + Retry-After; the admitted request completes; then it recovers", async () => {
    const g = gatedEncoder();
    const text = "one two three four five six seven eight nine ten";
    const n = (await encoder.tokenize([text]))[0]!.length;
    // Room for one request of 2 texts, not for one of 1 text plus one of 2.
    const s = await createM3Server({ encoder: g.enc, port: 0, limits: { queueTokens: 3 * n - 1, maxRequestTokens: 3 * n - 1, retryAfterSeconds: 2 } });
    try {
      const p = (body: unknown): Promise<Response> => fetch(s.url + "/v1/embeddings", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      const first = p({ input: text });
      await g.entered;
      const flood = await Promise.all(Array.from({ length: 20 }, () => p({ input: [text, text] })));
      for (const r of flood) {
        expect(r.status).toBe(429);
        expect(r.headers.get("retry-after")).toBe("2");
        expect(((await r.json()) as { error: { code: string } }).error.code).toBe("OVERLOADED");
      }
      g.open();
      const ok = await first;
      expect(ok.status).toBe(200);
      const again = await p({ input: [text, text] });
      expect(again.status).toBe(200);
      expect(s.metrics.errors.get({ code: "OVERLOADED" })).toBe(20);
    } finally {
      g.open();
      await s.close();
    }
  });

  it("concurrent requests are merged into one encoder call, each gets its own rows", async () => {
    const g = gatedEncoder();
    const s = await createM3Server({ encoder: g.enc, port: 0, batching: { windowMs: 5 } });
    try {
      const p = (input: string[]): Promise<Response> => fetch(s.url + "/v1/embeddings", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input, encoding_format: "float" }) });
      const first = p(["hold"]);
      await vi.waitFor(() => expect(g.calls.length).toBe(1));
      const second = p(["hold two"]);
      await vi.waitFor(() => expect(g.calls.length).toBe(2)); // two calls in flight: the next group waits
      const rest = [["a b"], ["c", "d e f"], ["g"]].map(p);
      await vi.waitFor(() => expect(s.metrics.render()).toMatch(/m3_queue_requests 5/));
      g.open();
      const answers = await Promise.all([first, second, ...rest].map(async (r) => ((await r).json() as Promise<{ data: Array<{ embedding: number[] }> }>)));
      expect(g.calls.length).toBe(3);
      expect(g.calls[2]!.sort()).toEqual(["a b", "c", "d e f", "g"].sort());
      const ref = await encoder.encode(["a b", "c", "d e f", "g"], { sparse: false, colbert: false });
      close(answers[2]!.data[0]!.embedding, ref[0]!.dense!);
      close(answers[3]!.data[1]!.embedding, ref[2]!.dense!);
      close(answers[4]!.data[0]!.embedding, ref[3]!.dense!);
    } finally {
      g.open();
      await s.close();
    }
  });

  it("a client that disconnects while queued is dropped before encoding and frees its tokens", async () => {
    const g = gatedEncoder();
    const s = await createM3Server({ encoder: g.enc, port: 0 });
    try {
      const p = (input: string[], signal?: AbortSignal): Promise<Response> => fetch(s.url + "/v1/encode", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input }), signal });
      const a = p(["hold"]);
      await vi.waitFor(() => expect(g.calls.length).toBe(1));
      const b = p(["hold too"]);
      await vi.waitFor(() => expect(g.calls.length).toBe(2));
      const ac = new AbortController();
      const c = p(["never encoded"], ac.signal).catch((e: unknown) => e);
      await vi.waitFor(() => expect(s.metrics.render()).toMatch(/m3_queue_requests 3/));
      ac.abort();
      await vi.waitFor(() => expect(s.metrics.cancelled.get()).toBe(1));
      expect(s.metrics.render()).toMatch(/m3_queue_requests 2/);
      g.open();
      expect((await a).status).toBe(200);
      expect((await b).status).toBe(200);
      await c;
      expect(g.calls.flat()).not.toContain("never encoded");
    } finally {
      g.open();
      await s.close();
    }
  });
});
