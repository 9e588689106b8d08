/**
 * Hostile `.pt` head files: zip bombs, absurd declared shapes, offsets and strides outside
 * the storage, non-finite weights, files that are devices or too large. Each must fail fast
 * with MODEL_INVALID, allocating no more than the heads of the model could need.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { M3Encoder } from "../src/encode/encoder.js";
import { headLimits, loadStateDict, parseStateDict } from "../src/encode/pt/state-dict.js";
import { isM3Error } from "../src/errors.js";
import { type PtTensor, deflateBomb, f32, headFiles, ptFile, zip } from "./helpers/pt-writer.js";

const tmp = mkdtempSync(join(tmpdir(), "m3-pthostile-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Inflated size of the bombs: the 2 GiB of the report (about 2 MB compressed). */
const BOMB_MIB = 2048;
const MiB = 1024 * 1024;

function invalid(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (isM3Error(err, "MODEL_INVALID")) return err.message;
    throw err;
  }
  throw new Error("expected MODEL_INVALID");
}

async function invalidAsync(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isM3Error(err, "MODEL_INVALID")) return err.message;
    throw err;
  }
  throw new Error("expected MODEL_INVALID");
}

const row = (size: number[], stride: number[], offset = 0, extra: Partial<PtTensor> = {}): PtTensor => ({ key: "weight", storage: "0", offset, size, stride, ...extra });

describe("zip bombs", () => {
  const tensor = [row([1, 8], [8, 1])];

  it("a deflated storage that declares 2 GiB for an [1, 8] tensor is refused before inflating", () => {
    const file = ptFile(tensor, { "0": { data: Buffer.alloc(0), method: 8, compressed: deflateBomb(BOMB_MIB), declaredSize: BOMB_MIB * MiB } });
    expect(file.length).toBeLessThan(3 * MiB);
    const rss = process.memoryUsage().rss;
    const msg = invalid(() => parseStateDict(file, "colbert_linear.pt"));
    expect(msg).toMatch(/declares 2147483648 bytes uncompressed, more than the \d+ its contents can need/);
    expect(process.memoryUsage().rss - rss).toBeLessThan(256 * MiB);
  });

  it("a deflated storage that lies about its size (32 bytes declared, 2 GiB inside) stops inflating at the cap", () => {
    const file = ptFile(tensor, { "0": { data: Buffer.alloc(0), method: 8, compressed: deflateBomb(BOMB_MIB), declaredSize: 32 } });
    const rss = process.memoryUsage().rss;
    const msg = invalid(() => parseStateDict(file, "colbert_linear.pt"));
    expect(msg).toMatch(/inflates to more than \d+ bytes, more than its contents can need \(a zip bomb\?\)/);
    expect(process.memoryUsage().rss - rss).toBeLessThan(256 * MiB);
  });

  it("a deflated data.pkl bomb is capped too", () => {
    const archive = zip([{ name: "m/data.pkl", data: Buffer.alloc(0), method: 8, compressed: deflateBomb(64), declaredSize: 100 }]);
    expect(invalid(() => parseStateDict(archive, "sparse_linear.pt"))).toMatch(/data\.pkl.*inflates to more than/);
  });

  it("a deflated storage of the right size still loads", () => {
    const file = ptFile(tensor, { "0": { data: f32([1, 2, 3, 4, 5, 6, 7, 8]), method: 8 } });
    const sd = parseStateDict(file, "colbert_linear.pt", headLimits(8));
    expect(Array.from(sd.get("weight")!.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

describe("declared shapes are checked against the model and the storage before allocating", () => {
  it("[31622, 31622] with stride 0 (a 3 KB file asking for 3.9 GB) is refused without a config", () => {
    const file = ptFile([row([31622, 31622], [0, 0])], { "0": f32([1]) });
    const rss = process.memoryUsage().rss;
    expect(invalid(() => parseStateDict(file, "colbert_linear.pt"))).toMatch(/declares shape \[31622, 31622\] \(999950884 values\), more than the 16777216/);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * MiB);
  });

  it("a dimension that is neither 1 nor the hidden size is refused (hidden 8: [4000, 4000])", () => {
    const file = ptFile([row([4000, 4000], [0, 0])], { "0": f32([1]) });
    expect(invalid(() => parseStateDict(file, "colbert_linear.pt", headLimits(8)))).toMatch(/shape \[4000, 4000\], expected every dimension to be 1 or 8/);
  });

  it("a shape the storage cannot hold is refused before the copy", () => {
    const file = ptFile([row([8, 8], [8, 1])], { "0": f32([1, 2, 3, 4]) });
    expect(invalid(() => parseStateDict(file, "colbert_linear.pt", headLimits(8)))).toMatch(/reads 256 bytes of storage 0, which holds 16/);
  });
});

describe("offsets, strides and sizes", () => {
  const storage = { "0": f32([1, 2, 3, 4, 5, 6, 7, 8]) };
  const cases: Array<[string, PtTensor, RegExp]> = [
    ["a negative storage offset", row([1, 4], [4, 1], -4), /storage offset -4; it must be an integer >= 0/],
    ["a fractional offset", row([1, 4], [4, 1], 1.5), /storage offset 1\.5/],
    ["a NaN offset", row([1, 4], [4, 1], NaN), /storage offset NaN/],
    ["an offset of 2^53", row([1, 4], [4, 1], 2 ** 53), /storage offset 9007199254740992/],
    ["an offset past the storage", row([1, 4], [4, 1], 6), /reads 40 bytes of storage 0, which holds 32/],
    ["a negative stride", row([1, 4], [4, -1], 3), /stride -1 in dimension 1/],
    ["a negative size", row([-1, 4], [4, 1]), /size -1/],
    ["a stride per dimension missing", row([1, 4], [4]), /malformed shape or strides/],
    ["nine dimensions", row([1, 1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1, 1]), /malformed shape or strides \(up to 8/],
    ["a stride that reaches past any storage", row([1, 4], [4, 2 ** 52]), /reaches past any storage|which holds 32/],
    ["a storage of an unknown type", row([1, 4], [4, 1], 0, { type: "IntStorage" as never }), /unsupported tensor storage type IntStorage/],
  ];
  for (const [what, t, re] of cases) {
    it(`${what} -> MODEL_INVALID`, () => {
      expect(invalid(() => parseStateDict(ptFile([t], storage), "colbert_linear.pt"))).toMatch(re);
    });
  }

  it("a storage missing from the archive -> MODEL_INVALID", () => {
    expect(invalid(() => parseStateDict(ptFile([row([1, 4], [4, 1])], {}), "x.pt"))).toMatch(/no storage "m\/data\/0"/);
  });

  it("views into one storage (transposed, sliced) still read exactly", () => {
    const file = ptFile(
      [
        { key: "t", storage: "0", offset: 0, size: [4, 2], stride: [1, 4] },
        { key: "s", storage: "0", offset: 5, size: [3], stride: [1] },
      ],
      storage,
    );
    const sd = parseStateDict(file, "views.pt");
    expect(Array.from(sd.get("t")!.data)).toEqual([1, 5, 2, 6, 3, 7, 4, 8]);
    expect(Array.from(sd.get("s")!.data)).toEqual([6, 7, 8]);
  });
});

describe("non-finite weights", () => {
  const cases: Array<[string, Buffer, "FloatStorage" | "HalfStorage" | "DoubleStorage"]> = [
    ["NaN", f32([1, NaN, 3, 4]), "FloatStorage"],
    ["+Infinity", f32([1, 2, Infinity, 4]), "FloatStorage"],
    ["-Infinity in float16", Buffer.from(new Uint16Array([0x3c00, 0xfc00, 0x3c00, 0x3c00]).buffer), "HalfStorage"],
    ["a float64 beyond float32's range", Buffer.from(new Float64Array([1, 2, 1e300, 4]).buffer), "DoubleStorage"],
  ];
  for (const [what, bytes, type] of cases) {
    it(`${what} anywhere in a tensor -> MODEL_INVALID`, () => {
      const file = ptFile([row([1, 4], [4, 1], 0, { type })], { "0": bytes });
      expect(invalid(() => parseStateDict(file, "sparse_linear.pt"))).toMatch(/holds a non-finite value/);
    });
  }
});

describe("head files that are not regular files, or too large", () => {
  it("a symlink to /dev/zero -> MODEL_INVALID, nothing read", async () => {
    const link = join(tmp, "zero.pt");
    symlinkSync("/dev/zero", link);
    expect(await invalidAsync(loadStateDict(link))).toMatch(/is a device, not a regular file/);
  });

  it("a FIFO -> MODEL_INVALID without waiting for a writer", async () => {
    const fifo = join(tmp, "fifo.pt");
    execFileSync("mkfifo", [fifo]);
    expect(await invalidAsync(loadStateDict(fifo))).toMatch(/is a FIFO, not a regular file/);
  });

  it("a folder -> MODEL_INVALID", async () => {
    const dir = join(tmp, "dir.pt");
    mkdirSync(dir);
    expect(await invalidAsync(loadStateDict(dir))).toMatch(/is a folder, not a regular file/);
  });

  it("a path that is not a string -> INVALID_ARGUMENT (it threw a TypeError)", async () => {
    for (const p of [null, 42, ""]) await expect(loadStateDict(p as string)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  it("a file larger than the heads of the model can be -> MODEL_INVALID before reading it", async () => {
    const big = join(tmp, "big.pt");
    writeFileSync(big, "");
    truncateSync(big, 2 * MiB); // sparse: no disk used
    const limits = headLimits(8);
    expect(limits.maxFileBytes).toBeLessThan(2 * MiB);
    expect(await invalidAsync(loadStateDict(big, limits))).toMatch(/it is 2097152 bytes, more than the \d+ the heads of this model can take \(hidden size 8\)/);
  });
});

describe("through the encoder: heads are checked against config.json's hidden size", () => {
  const FIXTURE = join(import.meta.dirname, "fixtures/models/encoder-only");
  function modelWith(colbert: (path: string) => void): string {
    const dir = mkdtempSync(join(tmp, "model-"));
    cpSync(FIXTURE, dir, { recursive: true });
    const p = join(dir, "colbert_linear.pt");
    rmSync(p);
    colbert(p);
    return dir;
  }

  it("colbert_linear.pt -> /dev/zero: MODEL_INVALID", async () => {
    const dir = modelWith((p) => symlinkSync("/dev/zero", p));
    expect(await invalidAsync(M3Encoder.load({ modelPath: dir }))).toMatch(/colbert_linear\.pt is a device/);
  });

  it("tokenizer.json, config.json or the graph -> /dev/zero: MODEL_INVALID before anything reads them", async () => {
    for (const file of ["onnx/tokenizer.json", "config.json", "onnx/model.onnx"]) {
      const dir = modelWith((p) => writeFileSync(p, headFiles(32).colbert));
      rmSync(join(dir, file));
      symlinkSync("/dev/zero", join(dir, file));
      expect(await invalidAsync(M3Encoder.load({ modelPath: dir })), file).toMatch(/is not a regular file \(a device/);
    }
  });

  it("heads of another hidden size (64 for a 32 model): refused from the declared shape", async () => {
    const dir = modelWith((p) => writeFileSync(p, headFiles(64).colbert));
    expect(await invalidAsync(M3Encoder.load({ modelPath: dir }))).toMatch(/colbert_linear\.pt: tensor "weight" has shape \[64, 64\], expected every dimension to be 1 or 32/);
  });

  it("valid heads of the right size load and encode finite vectors", async () => {
    const dir = modelWith((p) => writeFileSync(p, headFiles(32, 3).colbert));
    const enc = await M3Encoder.load({ modelPath: dir });
    try {
      const [e] = await enc.encode(["hello world"]);
      expect(e!.colbert!.data.every(Number.isFinite)).toBe(true);
    } finally {
      await enc.dispose();
    }
  });
});
