/**
 * `createM3Server({ postgres })` (what `m3 serve --pg <url> --table t` builds) over a real
 * Postgres: PGlite + pgvector served on 127.0.0.1 by test/helpers/pg-server.ts. /v1/search
 * equals M3HybridStore.search in process on the same collection; /v1/documents writes need
 * the key (a refused write stores nothing), are seen by the in-process store, and delete works.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createM3Server, M3Encoder, M3HybridStore, openStore, type M3Server } from "../src/index.js";
import { dropCollection, externalPgUrl, freshTable, startPgServer, type PgServer } from "./helpers/pg-server.js";

const MODEL = join(import.meta.dirname, "fixtures/models/encoder-only");
const KEY = "pg-test-key-0123456789";
const DOCS = [
  { id: "bread", page_content: "Bread dough rises because yeast ferments sugar and makes gas.", metadata: { topic: "food" } },
  { id: "tides", page_content: "The Moon's gravity pulls on the oceans and raises the tides.", metadata: { topic: "sea" } },
  { id: "mars", page_content: "Mars is called the red planet.", metadata: { topic: "space" } },
  { id: "mauer", page_content: "Die Berliner Mauer fiel 1989.", metadata: { topic: "history" } },
  { id: "sourdough", page_content: "A sourdough starter is flour and water fermented by wild yeast.", metadata: { topic: "food" } },
];

let pgServer: PgServer | undefined;
let url: string;
let table: string;
let encoder: M3Encoder;
let server: M3Server;
let local: M3HybridStore;

interface Hit { id: string; score: number; scores: Record<string, number>; page_content: string; metadata: Record<string, unknown> }

function post(path: string, body: unknown, key: string | null = KEY): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (key !== null) headers["authorization"] = `Bearer ${key}`;
  return fetch(server.url + path, { method: "POST", headers, body: JSON.stringify(body) });
}

beforeAll(async () => {
  const external = externalPgUrl();
  if (external === undefined) pgServer = await startPgServer();
  url = external ?? pgServer!.url;
  table = freshTable("serve");
  encoder = await M3Encoder.load({ modelPath: MODEL });
  server = await createM3Server({ encoder, port: 0, postgres: { connectionString: url, table }, apiKey: KEY, writable: true });
  await server.ready();
  local = await openStore(encoder, { postgres: { connectionString: url, table } });
});

afterAll(async () => {
  await server?.close();
  await local?.close();
  await encoder?.dispose();
  if (url !== undefined && table !== undefined) await dropCollection(url, table).catch(() => undefined);
  await pgServer?.stop();
});

describe("m3 serve over a Postgres collection", () => {
  it("writes need the key: without it 401 and nothing is stored; with it the documents are in the collection", async () => {
    const refused = await post("/v1/documents", { documents: DOCS }, null);
    expect(refused.status).toBe(401);
    const wrong = await post("/v1/documents", { documents: DOCS }, "not-the-key-000");
    expect(wrong.status).toBe(401);
    expect(await local.count()).toBe(0);
    const r = await post("/v1/documents", { documents: DOCS });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { ids: string[] }).ids).toEqual(DOCS.map((d) => d.id));
    expect(await local.count()).toBe(DOCS.length);
  });

  it("/v1/search equals M3HybridStore.search in process: ids, fused and per-mode scores, texts, metadata, filters", async () => {
    const cases: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
      ["Why does bread dough rise?", { k: 5 }, { k: 5 }],
      ["yeast", { k: 3, filter: { topic: "food" } }, { k: 3, filter: { topic: "food" } }],
      ["red planet", { k: 4, modes: ["dense", "sparse"], fusion: "rrf" }, { k: 4, modes: ["dense", "sparse"], fusion: "rrf" }],
    ];
    for (const [query, body, opts] of cases) {
      const res = await post("/v1/search", { query, ...body });
      expect(res.status).toBe(200);
      const hits = ((await res.json()) as { hits: Hit[] }).hits;
      const ref = await local.search(query, opts);
      expect(hits.map((h) => h.id)).toEqual(ref.map((h) => h.id));
      hits.forEach((h, i) => {
        const e = ref[i]!;
        expect(h.score).toBeCloseTo(e.score, 6);
        for (const [mode, s] of Object.entries(e.scores)) expect(h.scores[mode]).toBeCloseTo(s as number, 6);
        expect(h.page_content).toBe(e.document.pageContent);
        expect(h.metadata).toEqual(e.document.metadata);
      });
      expect(hits.length).toBeGreaterThan(0);
    }
  });

  it("delete behind the key: refused without it (nothing deleted), then by ids and by filter", async () => {
    expect((await post("/v1/documents/delete", { ids: ["mars"] }, null)).status).toBe(401);
    expect(await local.count()).toBe(DOCS.length);
    const byId = await post("/v1/documents/delete", { ids: ["mars"] });
    expect(((await byId.json()) as { deleted: number }).deleted).toBe(1);
    const byFilter = await post("/v1/documents/delete", { filter: { topic: "food" } });
    expect(((await byFilter.json()) as { deleted: number }).deleted).toBe(2);
    expect(await local.count()).toBe(2);
    const hits = ((await (await post("/v1/search", { query: "yeast bread", k: 5 })).json()) as { hits: Hit[] }).hits;
    expect(hits.map((h) => h.id).sort()).toEqual(["mauer", "tides"]);
  });
});
