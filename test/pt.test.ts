import { readFileSync } from "node:fs";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isM3Error } from "../src/errors.js";
import { loadStateDict, parseStateDict } from "../src/encode/pt/state-dict.js";
import { halfToFloat32 } from "../src/math/half.js";
import { fixtureRoots } from "./helpers/m3-golden.js";

const DIR = join(import.meta.dirname, "data/pt");
type Expected = Record<string, Record<string, { shape: number[]; data: number[] }>>;
const expected = JSON.parse(readFileSync(join(DIR, "expected.json"), "utf8")) as Expected;

describe(".pt state_dict reader", () => {
  for (const [name, tensors] of Object.entries(expected)) {
    it(`reads ${name}.pt exactly as torch does`, async () => {
      const sd = await loadStateDict(join(DIR, `${name}.pt`));
      expect([...sd.keys()].sort()).toEqual(Object.keys(tensors).sort());
      for (const [k, t] of Object.entries(tensors)) {
        const got = sd.get(k)!;
        expect(got.shape).toEqual(t.shape);
        expect(Array.from(got.data)).toEqual(t.data.map(Math.fround));
      }
    });
  }

  it("reads a deflate-compressed archive", async () => {
    const a = await loadStateDict(join(DIR, "deflated.pt"));
    const b = await loadStateDict(join(DIR, "sparse_fp16.pt"));
    expect(Array.from(a.get("weight")!.data)).toEqual(Array.from(b.get("weight")!.data));
  });

  it("converts half floats including subnormals, infinities and NaN", () => {
    const out = halfToFloat32(Uint16Array.from([0x3c00, 0xc000, 0x0001, 0x7c00, 0xfc00, 0x7e00, 0x8000]));
    expect(out[0]).toBe(1);
    expect(out[1]).toBe(-2);
    expect(out[2]).toBe(2 ** -24);
    expect(out[3]).toBe(Infinity);
    expect(out[4]).toBe(-Infinity);
    expect(Number.isNaN(out[5])).toBe(true);
    expect(Object.is(out[6], -0)).toBe(true);
  });

  const bad: Array<[string, () => Buffer]> = [
    ["an empty file", () => Buffer.alloc(0)],
    ["random bytes", () => Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) % 251))],
    ["a truncated archive", () => readFileSync(join(DIR, "sparse_fp16.pt")).subarray(0, 600)],
    ["a legacy pickle file", () => Buffer.from([0x80, 0x02, 0x8a, 0x0a])],
    ["an HTML error page", () => Buffer.from("<!DOCTYPE html><html>Not Found</html>")],
  ];
  for (const [what, make] of bad) {
    it(`rejects ${what} with MODEL_INVALID naming the file`, () => {
      let err: unknown;
      try {
        parseStateDict(make(), "colbert_linear.pt");
      } catch (e) {
        err = e;
      }
      expect(isM3Error(err, "MODEL_INVALID")).toBe(true);
      expect((err as Error).message).toMatch(/colbert_linear\.pt/);
      expect((err as Error).message).toMatch(/re-download/);
    });
  }

  it("rejects a corrupted pickle inside a valid archive", () => {
    const buf = Buffer.from(readFileSync(join(DIR, "sparse_fp32.pt")));
    // Corrupt the pickle bytes in place: the archive stays valid, the program does not.
    const at = buf.indexOf("_rebuild_tensor_v2");
    buf.fill(0xff, at, at + 40);
    expect(() => parseStateDict(buf, "x.pt")).toThrow(/Cannot read x\.pt/);
  });

  it("reports a missing file as MODEL_NOT_FOUND", async () => {
    const dir = mkdtempSync(join(tmpdir(), "m3pt-"));
    writeFileSync(join(dir, "other"), "");
    await expect(loadStateDict(join(dir, "sparse_linear.pt"))).rejects.toMatchObject({ code: "MODEL_NOT_FOUND" });
  });

  for (const root of fixtureRoots()) {
    it(`fixture heads in ${root}: fp16 files (stem/ prefix) and fp32 re-saves (archive/ prefix) agree`, async () => {
      for (const name of ["sparse_linear", "colbert_linear"]) {
        const half = await loadStateDict(join(root, "encoder-only", `${name}.pt`));
        const full = await loadStateDict(join(root, "../pt", `${name}.fp32.pt`));
        for (const k of ["weight", "bias"]) {
          expect(full.get(k)!.shape).toEqual(half.get(k)!.shape);
          expect(full.get(k)!.data).toEqual(half.get(k)!.data);
        }
      }
    });
  }
});
