/**
 * A hostile or compromised hub (HF_ENDPOINT, a mirror, plain-http interception): etags that
 * name paths outside the cache, etags that are no content hash, and answers that point the
 * client at another origin must neither write outside the cache nor carry the token away.
 */
import { randomBytes } from "node:crypto";
import { readdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isM3Error } from "../src/errors.js";
import { resolvePretrained } from "../src/hub/index.js";
import { blobPath, inside, pointerPath, refPath } from "../src/hub/cache.js";
import { useMockHub } from "./helpers/hub-env.js";
import { MockHub, addBgeRepos } from "./helpers/mock-hub.js";

const env = useMockHub({
  cachePrefix: "m3-hubsec-",
  setup: (hub) => {
    // Small files, so they are regular (git) files answered with a plain ETag.
    hub.addRepo("acme/small-m3", { "bge_m3_model.onnx": Buffer.alloc(500, 1), "tokenizer.json": "{}" });
  },
});
const { hub, opts } = env;
const TOKEN = "hf_secret_token";

/** Another origin on the same machine: what a Link header, a redirect or a Location may point at. */
const evil = new MockHub();
beforeAll(async () => {
  addBgeRepos(evil);
  evil.addRepo("acme/small-m3", { "bge_m3_model.onnx": Buffer.alloc(500, 1), "tokenizer.json": "{}" });
  await evil.start();
});
afterAll(() => evil.close());

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isM3Error(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error("expected a failure");
}

const gone = (p: string): Promise<boolean> => stat(p).then(() => false, () => true);

describe("etags are content hashes, and every cache path stays inside the cache", () => {
  it('ETag: "../../../x" -> HUB_ERROR, and nothing is written outside the cache', async () => {
    const name = `m3-escaped-${randomBytes(4).toString("hex")}`;
    hub.rewriteHeaders = (r, _status, h) => {
      if (r.method === "HEAD" && r.path.endsWith("/tokenizer.json") && h["ETag"] !== undefined) h["ETag"] = `"../../../${name}"`;
    };
    const f = await failure(resolvePretrained("acme/small-m3", opts()));
    expect(f.code).toBe("HUB_ERROR");
    expect(f.message).toMatch(/ETag.*40-hex git blob id or a 64-hex sha256/);
    // blobs/../../../<name> is the cache folder's parent
    expect(await gone(join(env.cache, "..", name))).toBe(true);
    expect(await gone(join(env.cache, "..", `${name}.incomplete`))).toBe(true);
  });

  it('X-Linked-Etag: "../../x" (an LFS file) -> HUB_ERROR, nothing written next to the repository folder', async () => {
    hub.rewriteHeaders = (r, _status, h) => {
      if (r.method === "HEAD" && r.path.endsWith("/bge_m3_model.onnx_data") && h["X-Linked-Etag"] !== undefined) h["X-Linked-Etag"] = '"../../x"';
    };
    const f = await failure(resolvePretrained("yuniko-software/bge-m3-onnx", opts()));
    expect(f.code).toBe("HUB_ERROR");
    expect(f.message).toMatch(/X-Linked-Etag/);
    expect(await gone(join(env.cache, "x"))).toBe(true);
    expect(await gone(join(env.cache, "x.incomplete"))).toBe(true);
  });

  it("an etag that is no content hash is refused (it used to skip the checksum silently)", async () => {
    for (const etag of ['"abcdef"', '"' + "g".repeat(40) + '"', '"' + "A".repeat(64) + '"', '""']) {
      hub.rewriteHeaders = (r, _status, h) => {
        if (r.method === "HEAD" && r.path.endsWith("/tokenizer.json") && h["ETag"] !== undefined) h["ETag"] = etag;
      };
      const f = await failure(resolvePretrained("acme/small-m3", opts()));
      expect(f.code, etag).toBe("HUB_ERROR");
    }
    // a weak etag of a real git blob id is still fine
    hub.rewriteHeaders = (r, _status, h) => {
      if (r.method === "HEAD" && h["ETag"] !== undefined && h["X-Linked-Etag"] === undefined) h["ETag"] = `W/${h["ETag"]}`;
    };
    const ok = await resolvePretrained("acme/small-m3", opts());
    expect(ok.files).toContain("tokenizer.json");
  });

  it("blob, snapshot and ref paths that would leave their folder are refused", () => {
    const storage = join(tmpdir(), "cache", "models--a--b");
    for (const bad of [() => blobPath(storage, "../../x"), () => blobPath(storage, ""), () => blobPath(storage, "a/../..")]) {
      expect(bad).toThrow(expect.objectContaining({ code: "HUB_ERROR" }));
    }
    expect(() => pointerPath(storage, "c".repeat(40), "../../../blobs/x")).toThrow(expect.objectContaining({ code: "HUB_ERROR" }));
    expect(() => refPath(storage, "a/../../../x")).toThrow(expect.objectContaining({ code: "HUB_ERROR" }));
    expect(() => inside(storage, "..")).toThrow(expect.objectContaining({ code: "HUB_ERROR" }));
    expect(inside(storage, "refs", "pr", "1")).toBe(join(storage, "refs", "pr", "1"));
    expect(blobPath(storage, "a".repeat(64))).toBe(join(storage, "blobs", "a".repeat(64)));
  });
});

describe("the token goes only to the endpoint's origin", () => {
  it('a tree listing whose Link: rel="next" points at another host gets no token there', async () => {
    hub.pageSize = 3;
    hub.rewriteHeaders = (_r, _status, h) => {
      if (h["Link"] !== undefined) h["Link"] = h["Link"].replace(hub.url, evil.url);
    };
    evil.log.length = 0;
    const r = await resolvePretrained("yuniko-software/bge-m3-onnx", opts({ token: TOKEN }));
    expect(r.files).toContain("bge_m3_model.onnx_data");
    const away = evil.requests((q) => q.path.includes("/tree/"));
    expect(away.length).toBeGreaterThan(0);
    expect(away.map((q) => q.authorization)).toEqual(away.map(() => undefined));
    expect(hub.requests((q) => q.path.includes("/tree/")).every((q) => q.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('a HEAD redirect to "//other-host/..." (protocol-relative) is not followed with the token', async () => {
    hub.rewriteHeaders = (r, status, h) => {
      if (r.method === "HEAD" && status === 200 && r.path.endsWith("/bge_m3_model.onnx")) {
        h["Location"] = `//${new URL(evil.url).host}${r.path}`;
        return 307;
      }
    };
    evil.log.length = 0;
    const r = await resolvePretrained("acme/small-m3", opts({ token: TOKEN }));
    expect(r.files).toContain("bge_m3_model.onnx");
    expect(evil.requests().length).toBeGreaterThan(0);
    expect(evil.requests().filter((q) => q.authorization !== undefined)).toEqual([]);
  });

  it("a download redirected to another origin gets no token, even through a fetch that keeps headers on redirects", async () => {
    // A fetch implementation that follows redirects keeping every header (as some polyfills do).
    const keepsHeaders: typeof fetch = async (input, init) => {
      let url = String(input);
      for (let hop = 0; hop < 10; hop++) {
        const res = await globalThis.fetch(url, { ...init, redirect: "manual" });
        const loc = res.headers.get("location");
        if (init?.redirect === "manual" || loc === null || res.status < 300 || res.status >= 400) return res;
        url = new URL(loc, url).toString();
      }
      throw new Error("too many redirects");
    };
    const DATA = "bge_m3_model.onnx_data";
    // The first CDN download fails, so the retry asks the Hub, which redirects to the other origin.
    const sha = hub.etagOf("yuniko-software/bge-m3-onnx", DATA);
    hub.faults = [{ kind: "status", status: 500, match: (q) => q.method === "GET" && q.path === `/cdn/${sha}` }];
    hub.rewriteHeaders = (r, _status, h) => {
      if (r.method === "GET" && r.path.endsWith(`/resolve/${hub.repos.get("yuniko-software/bge-m3-onnx")!.commit}/${DATA}`) && h["Location"] !== undefined) {
        h["Location"] = h["Location"].replace(hub.url, evil.url);
      }
    };
    evil.log.length = 0;
    const r = await resolvePretrained("yuniko-software/bge-m3-onnx", opts({ token: TOKEN, fetch: keepsHeaders }));
    expect(r.files).toContain(DATA);
    expect(evil.requests((q) => q.path.startsWith("/cdn/")).length).toBe(1);
    expect(evil.requests().filter((q) => q.authorization !== undefined)).toEqual([]);
    expect(hub.requests((q) => q.path.includes("/resolve/")).every((q) => q.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect((await readdir(env.cache)).sort()).toEqual(["models--yuniko-software--bge-m3-onnx"]);
  });
});

describe("a cache folder where nothing can be created", () => {
  it("cacheDir under /proc -> IO_ERROR; it settles (Node's recursive mkdir loops forever there)", async () => {
    const f = await failure(resolvePretrained("acme/small-m3", opts({ cacheDir: "/proc/m3-hub-cache" })));
    expect(f.code).toBe("IO_ERROR");
  });
});

describe("options and answers the fuzz suite found untyped", () => {
  it("a revision with a lone surrogate or control characters, a non-ASCII token, a non-URL endpoint, a non-AbortSignal signal -> INVALID_ARGUMENT", async () => {
    const bad: Array<Record<string, unknown>> = [
      { revision: "\ud800x" },
      { revision: "main\n" },
      { token: "hf_ü" },
      { endpoint: "not a url" },
      { endpoint: 42 },
      { cacheDir: 42 },
      { signal: {} },
      { onProgress: "yes" },
    ];
    for (const extra of bad) {
      const f = await failure(resolvePretrained("acme/small-m3", opts(extra as never)));
      expect(f.code, JSON.stringify(Object.keys(extra))).toBe("INVALID_ARGUMENT");
    }
    expect((await failure(resolvePretrained("acme/small-m3", null as never))).code).toBe("INVALID_ARGUMENT");
  });

  it("a tree listing that is not JSON (a 404 rewritten to 206 with an empty body) -> HUB_ERROR, not a SyntaxError", async () => {
    hub.rewriteHeaders = (r, _status) => (r.path.includes("/tree/") ? 206 : undefined);
    hub.faults = [{ kind: "status", status: 200, match: (q) => q.path.includes("/tree/") }];
    const f = await failure(resolvePretrained("acme/small-m3", opts()));
    expect(f.code).toBe("HUB_ERROR");
    expect(f.message).toMatch(/could not be understood \(SyntaxError/);
  });
});
