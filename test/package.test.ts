/**
 * The built package, as a user imports it: dist/index.js (ESM) and dist/index.cjs (CJS).
 * `npm test` builds before running vitest; run `npm run build` first when running this alone.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  exports: { ".": { import: { default: string; types: string }; require: { default: string; types: string } } };
  bin: Record<string, string>;
};
const esmPath = join(root, pkg.exports["."].import.default);
const cjsPath = join(root, pkg.exports["."].require.default);
const model = join(root, "test/fixtures/models/encoder-only");

type Pkg = typeof import("../src/index.js");

describe("built package", () => {
  it("has every file package.json points at", () => {
    const files = [pkg.exports["."].import.default, pkg.exports["."].import.types, pkg.exports["."].require.default, pkg.exports["."].require.types, ...Object.values(pkg.bin)];
    const missing = files.filter((f) => !existsSync(join(root, f)));
    expect(missing, "run `npm run build` first").toEqual([]);
  });

  it("ESM and CJS builds export the same names, including the public classes", async () => {
    const esm = (await import(pathToFileURL(esmPath).href)) as Pkg;
    const cjs = createRequire(import.meta.url)(cjsPath) as Pkg;
    expect(Object.keys(esm).sort()).toEqual(Object.keys(cjs).sort());
    for (const name of ["M3Embeddings", "M3Encoder", "M3HybridStore", "M3HybridRetriever", "M3VectorStore", "M3Error", "resolvePretrained"] as const) {
      expect(typeof esm[name], name).toBe("function");
    }
  });

  it("keeps the source names of every exported class and function (logs, lc_name(), lc_id)", async () => {
    const esm = (await import(pathToFileURL(esmPath).href)) as Pkg;
    const cjs = createRequire(import.meta.url)(cjsPath) as Pkg;
    for (const [label, mod] of [["ESM", esm], ["CJS", cjs]] as const) {
      const renamed = Object.entries(mod).filter(([k, v]) => typeof v === "function" && (v as { name: string }).name !== k).map(([k, v]) => `${k} → ${(v as { name: string }).name}`);
      expect(renamed, label).toEqual([]);
      expect(mod.M3VectorStore.lc_name(), label).toBe("M3VectorStore");
      expect(mod.M3HybridRetriever.lc_name(), label).toBe("M3HybridRetriever");
      expect(mod.M3VectorStoreRetriever.lc_name(), label).toBe("M3VectorStoreRetriever");
      const embeddings = new mod.M3Embeddings({ modelPath: model });
      const vs = new mod.M3VectorStore(embeddings, {});
      expect(vs.lc_id, label).toEqual(["langchain_m3", "vectorstores", "M3VectorStore"]);
      expect(vs.asRetriever().constructor.name, label).toBe("M3VectorStoreRetriever");
      await vs.close();
      await embeddings.dispose();
    }
  });

  it("ESM and CJS encode the same text to the same vectors, and errors are recognised across copies", async () => {
    const esm = (await import(pathToFileURL(esmPath).href)) as Pkg;
    const cjs = createRequire(import.meta.url)(cjsPath) as Pkg;
    const a = new esm.M3Embeddings({ modelPath: model });
    const b = new cjs.M3Embeddings({ modelPath: model });
    try {
      const [va, vb] = await Promise.all([a.embedQuery("Grüße aus Köln"), b.embedQuery("Grüße aus Köln")]);
      expect(va.length).toBeGreaterThan(0);
      expect(va).toEqual(vb);
      const err = await b.embedDocuments([null as unknown as string]).catch((e: unknown) => e);
      expect(esm.isM3Error(err, "INVALID_ARGUMENT")).toBe(true);
      expect(err).toBeInstanceOf(cjs.M3Error);
    } finally {
      await Promise.all([a.dispose(), b.dispose()]);
    }
  });
});
