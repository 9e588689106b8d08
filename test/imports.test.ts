/**
 * The import graph of src/ (scripts/check-imports.mjs): no cycle, and nothing above the backend
 * seam (retrieve/, langchain/, serve/) imports a backend (index/, postgres/) except the one
 * composition module src/open.ts. The checker itself is tested on small graphs, so a checker
 * that finds nothing cannot pass for a clean tree.
 */
import { describe, expect, it } from "vitest";
// @ts-expect-error plain .mjs script without types
import { cycles, forbidden, graph } from "../scripts/check-imports.mjs";

type Graph = Map<string, string[]>;

describe("import graph of src/", () => {
  const g = graph() as Graph;

  it("parses the tree (every module, with its imports)", () => {
    expect(g.size).toBeGreaterThan(100);
    expect(g.get("open.ts")).toContain("index/hybrid-index.ts");
    expect(g.get("retrieve/search.ts")).toContain("backend/types.ts");
  });

  it("has no cycle", () => {
    expect(cycles(g)).toEqual([]);
  });

  it("has no arrow from above the seam into a backend, except src/open.ts", () => {
    expect(forbidden(g)).toEqual([]);
  });

  it("the checker finds a cycle and a forbidden arrow when there is one", () => {
    const bad: Graph = new Map([
      ["backend/filter.ts", ["backend/types.ts"]],
      ["backend/types.ts", ["backend/filter.ts"]],
      ["retrieve/hybrid-store.ts", ["index/hybrid-index.ts", "backend/types.ts"]],
      ["langchain/vectorstore.ts", ["postgres/backend.ts"]],
      ["index/hybrid-index.ts", ["postgres/options.ts"]],
      ["open.ts", ["index/hybrid-index.ts", "postgres/backend.ts"]],
      ["postgres/backend.ts", []],
      ["postgres/options.ts", []],
    ]);
    expect(cycles(bad)).toEqual([["backend/filter.ts", "backend/types.ts", "backend/filter.ts"]]);
    expect(forbidden(bad).sort()).toEqual(["index/hybrid-index.ts → postgres/options.ts", "langchain/vectorstore.ts → postgres/backend.ts", "retrieve/hybrid-store.ts → index/hybrid-index.ts"]);
  });
});
