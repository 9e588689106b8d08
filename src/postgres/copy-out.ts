/**
 * Binary results for the ColBERT payloads: `COPY (SELECT …) TO STDOUT (FORMAT binary)` hands each row's fields
 * over as raw bytes. node-postgres reads every DataRow field as UTF-8 text (a binary-format bytea comes back
 * corrupted), so a bytea column in an ordinary result has to travel as text: hex is 2 bytes a byte and base64
 * 1.35, and the server spends more time encoding base64 than reading the rows. CopyData messages reach the
 * query object as Buffers, untouched.
 *
 * A COPY statement takes no parameters: values go into its text as literals (`textArrayLiteral` quotes with the
 * client library's escapeLiteral). Binary COPY layout: the 11-byte signature, int32 flags, int32 header extension
 * length (+ extension); per row int16 field count then per field int32 length (-1 = NULL) and the bytes;
 * int16 -1 ends the data. Integers are big-endian.
 */
import pg from "pg";
import { ErrorCodes, M3Error } from "../errors.js";

const SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");

function malformed(what: string): M3Error {
  return new M3Error(ErrorCodes.BACKEND_ERROR, `The server's binary COPY output ${what}; is the server a PostgreSQL (or a proxy that changes COPY data)?`);
}

/** The fields of one row (null for SQL NULL), each a view into the received data. */
export type CopyRow = (Buffer | null)[];

/** `ARRAY['a','b']::text[]` with every element quoted as a literal. */
export function textArrayLiteral(values: readonly string[]): string {
  return values.length === 0 ? "ARRAY[]::text[]" : `ARRAY[${values.map((v) => pg.escapeLiteral(v)).join(",")}]::text[]`;
}

/** A node-postgres Submittable that runs one `COPY … TO STDOUT` on the simple query protocol and keeps the data. */
class CopyOut {
  private readonly parts: Buffer[] = [];
  private error: unknown;
  private done = false;
  callback?: (err: unknown, v?: Buffer) => void;

  constructor(
    readonly text: string,
    private readonly settle: (err: unknown, data?: Buffer) => void,
  ) {}

  submit(connection: { query(text: string): void }): void {
    connection.query(this.text);
  }
  handleCopyData(msg: { chunk: Buffer }): void {
    // A copy: the parser's buffer may be reused for the next socket read.
    this.parts.push(Buffer.from(msg.chunk));
  }
  handleError(err: unknown): void {
    this.error ??= err;
    // After a connection-level error no ReadyForQuery follows: settle now.
    this.finish();
  }
  handleReadyForQuery(): void {
    this.finish();
  }
  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(connection: { sendCopyFail(msg: string): void }): void {
    connection.sendCopyFail("langchain-m3 only reads with COPY TO");
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.error !== undefined) this.settle(this.error);
    else this.settle(undefined, Buffer.concat(this.parts));
  }
}

/** Runs `COPY (select) TO STDOUT (FORMAT binary)` on `c`; returns the rows' fields. */
export function copyOutRows(c: pg.PoolClient, select: string): Promise<CopyRow[]> {
  return new Promise<Buffer>((resolve, reject) => {
    const q = new CopyOut(`COPY (${select}) TO STDOUT (FORMAT binary)`, (err, data) => (err === undefined ? resolve(data!) : reject(err)));
    (c as unknown as { query(q: CopyOut): void }).query(q);
  }).then(parseBinaryCopy);
}

/** Parses binary COPY data into rows of fields; BACKEND_ERROR for data that is not binary COPY output. */
export function parseBinaryCopy(data: Buffer): CopyRow[] {
  if (data.length < 19 || !data.subarray(0, 11).equals(SIGNATURE)) throw malformed("has no PGCOPY signature");
  let o = 15 + 4 + data.readUInt32BE(15);
  const rows: CopyRow[] = [];
  for (;;) {
    if (o + 2 > data.length) throw malformed("ends inside a row");
    const n = data.readInt16BE(o);
    o += 2;
    if (n === -1) return rows;
    const row: CopyRow = new Array<Buffer | null>(n);
    for (let i = 0; i < n; i++) {
      const len = data.readInt32BE(o);
      o += 4;
      if (len === -1) {
        row[i] = null;
        continue;
      }
      if (o + len > data.length) throw malformed("ends inside a field");
      row[i] = data.subarray(o, o + len);
      o += len;
    }
    rows.push(row);
  }
}

/** A bytea field as a Uint8Array whose offset is a multiple of 4 (the codecs view float32 scales in place). */
export function alignedBytes(b: Buffer): Uint8Array {
  if (b.byteOffset % 4 === 0) return b;
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}
