/**
 * The parsed filter tree is opaque: a hand-built `{ op, key, value }` neither type-checks where a
 * user filter or a tree is accepted (test/types/filter-brand.ts, compiled here with the
 * TypeScript compiler API: every @ts-expect-error in it must be needed) nor is silently read as
 * conditions on keys named "op", "key" and "value" at run time.
 */
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { parseFilter } from "../src/backend/filter.js";
import { HybridIndex } from "../src/index/hybrid-index.js";

describe("filter trees cannot be built by hand", () => {
  it("type level: the hand-built shapes in test/types/filter-brand.ts are errors, what callers write is not", () => {
    const file = join(__dirname, "types", "filter-brand.ts");
    const program = ts.createProgram([file], {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ["node"],
      lib: ["lib.es2022.d.ts"],
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file && d.start !== undefined ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}` : "";
      return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
    });
    expect(diagnostics).toEqual([]);
  });

  it("run time: parseFilter refuses an object with both op and key, at any depth; keys named op or key alone still filter", async () => {
    const tree = { op: "eq", key: "lang", value: "en" };
    expect(() => parseFilter(tree)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/both "op" and "key".*parseFilter/) }));
    expect(() => parseFilter({ $and: [{ lang: "en" }, tree] })).toThrow(/filter\.\$and\[1\] has both "op" and "key"/);
    expect(() => parseFilter({ $not: tree })).toThrow(/both "op" and "key"/);

    const index = await HybridIndex.create({ layout: "synthetic", hiddenSize: 4, vocabSize: 10, tokenizerSha256: "t" }, { sketchDim: 0 });
    const enc = (i: number) => ({ dense: Float32Array.of(1, i, 0, 0), sparse: { indices: Uint32Array.of(i), values: Float32Array.of(1) }, colbert: { data: Float32Array.of(1, 0, 0, 0), tokens: 1, dim: 4 } });
    await index.upsert([
      { id: "a", pageContent: "a", metadata: { op: "eq", key: "lang", value: "en", lang: "de" }, encoding: enc(1) },
      { id: "b", pageContent: "b", metadata: { op: "create", lang: "en" }, encoding: enc(2) },
    ]);
    // Before: the hand-built tree was read as op = "eq" AND key = "lang" AND value = "en", and matched "a".
    await expect(index.count(tree as never)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(index.deleteWhere(tree as never)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(index.size).toBe(2); // nothing deleted
    expect(await index.count({ op: "create" })).toBe(1);
    expect(await index.count({ $and: [{ op: "eq" }, { key: "lang" }] })).toBe(1);
    // A parsed tree passes through as is.
    expect(await index.count(parseFilter({ lang: "en" }))).toBe(1);
    await index.close();
  });
});
