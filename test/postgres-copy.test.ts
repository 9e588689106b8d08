/** The binary COPY reader of the Postgres backend (src/postgres/copy-out.ts), on hand-made data. */
import { describe, expect, it } from "vitest";
import { alignedBytes, parseBinaryCopy, textArrayLiteral } from "../src/postgres/copy-out.js";

const SIG = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");
const i16 = (n: number) => { const b = Buffer.alloc(2); b.writeInt16BE(n); return b; };
const i32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
const field = (b: Buffer | null) => (b === null ? i32(-1) : Buffer.concat([i32(b.length), b]));
const copy = (rows: (Buffer | null)[][], ext = Buffer.alloc(0)) =>
  Buffer.concat([SIG, i32(0), i32(ext.length), ext, ...rows.flatMap((r) => [i16(r.length), ...r.map(field)]), i16(-1)]);

describe("binary COPY reader", () => {
  it("reads rows of fields, NULLs and empty fields apart, past a header extension", () => {
    const bytes = Buffer.from([0, 0x80, 0xff, 0x7f, 1]);
    const rows = parseBinaryCopy(copy([[Buffer.from("ü'"), null, bytes], [Buffer.alloc(0), i32(-7), null]], Buffer.from("ext!")));
    expect(rows.length).toBe(2);
    expect(rows[0]![0]!.toString("utf8")).toBe("ü'");
    expect(rows[0]![1]).toBeNull();
    expect([...rows[0]![2]!]).toEqual([...bytes]);
    expect(rows[1]![0]!.length).toBe(0);
    expect(rows[1]![1]!.readInt32BE(0)).toBe(-7);
    expect(rows[1]![2]).toBeNull();
    expect(parseBinaryCopy(copy([]))).toEqual([]);
  });

  it("refuses data that is not binary COPY output, or ends early, with BACKEND_ERROR", () => {
    const good = copy([[Buffer.from("abc")]]);
    const bad = [Buffer.from("id\tcontent\n"), good.subarray(0, good.length - 2), good.subarray(0, good.length - 4)];
    for (const b of bad) expect(() => parseBinaryCopy(b)).toThrow(expect.objectContaining({ code: "BACKEND_ERROR" }));
  });

  it("aligns a payload view to 4 bytes (a copy only when needed), and quotes ids as literals", () => {
    const buf = Buffer.from([9, 1, 2, 3, 4, 5, 6, 7, 8]);
    const odd = alignedBytes(buf.subarray(1, 9));
    expect(odd.byteOffset % 4).toBe(0);
    expect([...odd]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const even = Buffer.from(new ArrayBuffer(8));
    expect(alignedBytes(even)).toBe(even);
    expect(textArrayLiteral([])).toBe("ARRAY[]::text[]");
    expect(textArrayLiteral(["a'b", "c\\d"])).toBe("ARRAY['a''b', E'c\\\\d']::text[]");
  });
});
