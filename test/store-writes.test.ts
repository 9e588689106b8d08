/** M3HybridStore writes: call order, cancellation, progress, ids. */
import { describe, expect, it } from "vitest";
import { M3HybridStore } from "../src/open.js";
import type { EncodeOptions, M3Encoding } from "../src/types.js";
import { codeOf } from "./helpers/backend-contract.js";
import { FakeM3Encoder } from "./helpers/fake-encoder.js";
import { memoryColbertFactory } from "./helpers/memory-colbert.js";

/** A fake encoder whose encode() waits until released, to hold an add in its encoding phase. */
class SlowEncoder extends FakeM3Encoder {
  gates: (() => void)[] = [];
  override async encode(texts: string[], options?: EncodeOptions): Promise<M3Encoding[]> {
    await new Promise<void>((r) => this.gates.push(r));
    return super.encode(texts, options);
  }
}

const make = async (enc = new FakeM3Encoder()) => M3HybridStore.create(enc, { colbertFactory: memoryColbertFactory, batchSize: 2 });
const tick = () => new Promise((r) => setTimeout(r, 5));

describe("M3HybridStore writes", () => {
  it("a delete called after an add of the same id wins, even while the add is still encoding", async () => {
    const enc = new SlowEncoder();
    const store = await make(enc);
    const add = store.addDocuments([{ id: "a", pageContent: "alpha beta" }]);
    const del = store.delete(["a"]);
    await tick();
    enc.gates.splice(0).forEach((g) => g());
    const [ids, res] = await Promise.all([add, del]);
    expect(ids).toEqual(["a"]);
    expect(res).toEqual({ deleted: 1, notFound: [] });
    expect(await store.count()).toBe(0);
    await store.close();
  });

  it("two adds of one id apply in call order, whichever finishes encoding first", async () => {
    const enc = new SlowEncoder();
    const store = await make(enc);
    const first = store.addDocuments([{ id: "x", pageContent: "first version" }]);
    const second = store.addDocuments([{ id: "x", pageContent: "second version" }]);
    await tick();
    enc.gates[1]!(); // the second add finishes encoding first
    await tick();
    enc.gates[0]!();
    await Promise.all([first, second]);
    expect((await store.get("x"))!.pageContent).toBe("second version");
    await store.close();
  });

  it("a failed write does not block or reorder the ones after it", async () => {
    const store = await make();
    const bad = store.addDocuments([{ id: "b", pageContent: "x" }], { ids: [""] });
    const good = store.addDocuments([{ id: "c", pageContent: "gamma" }]);
    expect(await codeOf(bad)).toBe("INVALID_ARGUMENT");
    expect(await good).toEqual(["c"]);
    expect(await store.count()).toBe(1);
    await store.close();
  });

  it("abort during encoding rejects with ABORTED and stores nothing; progress is reported", async () => {
    const store = await make();
    await store.addDocuments([{ id: "keep", pageContent: "kept document" }]);
    const ac = new AbortController();
    const events: string[] = [];
    const docs = Array.from({ length: 6 }, (_, i) => ({ id: `d${i}`, pageContent: `text ${i}` }));
    const p = store.addDocuments(docs, {
      signal: ac.signal,
      onProgress: (e) => {
        events.push(`${e.phase}:${e.done}/${e.total}`);
        if (e.done === 2) ac.abort();
      },
    });
    expect(await codeOf(p)).toBe("ABORTED");
    expect(events).toEqual(["encode:2/6"]);
    expect(await store.count()).toBe(1);
    const ok: string[] = [];
    await store.addDocuments(docs, { onProgress: (e) => ok.push(`${e.phase}:${e.done}/${e.total}`) });
    expect(ok).toEqual(["encode:2/6", "encode:4/6", "encode:6/6", "write:6/6"]);
    expect(await codeOf(store.search("text", { signal: AbortSignal.abort() }))).toBe("ABORTED");
    await store.close();
  });

  it("ids: null, non-string and empty ids are typed errors; missing ids are generated", async () => {
    const store = await make();
    expect(await codeOf(store.addDocuments([{ pageContent: "x" }], { ids: [null as never] }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(store.addDocuments([{ pageContent: "x" }], { ids: [""] }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(store.addDocuments([{ pageContent: "x", id: "" }]))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(store.addDocuments([{ pageContent: "x", id: 5 as never }]))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(store.addDocuments([{ pageContent: "x" }], null as never))).toBe("INVALID_ARGUMENT");
    const [id] = await store.addDocuments([{ pageContent: "x", id: undefined }]);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await codeOf(store.deleteWhere({} as never))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(store.get(null as never))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(M3HybridStore.create({} as never))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(M3HybridStore.fromBackend(new FakeM3Encoder(), {} as never))).toBe("INVALID_ARGUMENT");
    await store.close();
  });

  it("save on a backend without a directory form is a typed error; info reports the backend", async () => {
    const store = await make();
    await store.addDocuments([{ id: "s", pageContent: "saved text" }]);
    expect(await store.info()).toMatchObject({ kind: "embedded", documents: 1, location: "in memory" });
    const index = store.backend;
    const serverLike = new Proxy(index, {
      get(t, p) {
        if (p === "capabilities") return { predicateFilters: false, save: false };
        const v = Reflect.get(t, p, t) as unknown;
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
    const viaServer = await M3HybridStore.fromBackend(new FakeM3Encoder(), serverLike);
    expect(await codeOf(viaServer.save("/tmp/never-written"))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(viaServer.search("saved", { filter: (d) => d.id === "s" }))).toBe("INVALID_ARGUMENT");
    expect((await viaServer.search("saved", { filter: { $not: { absent: 1 } } }))[0]!.id).toBe("s");
    await store.close();
  });
});
