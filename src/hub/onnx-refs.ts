/**
 * The external-data files an ONNX graph refers to (`TensorProto.external_data` entries with key
 * "location", in initializers and in Constant-node / subgraph attributes), read with a minimal
 * protobuf walker. Used to fetch exactly the sidecars a graph needs and to tell whether a cached
 * snapshot is complete.
 */
import { open, stat } from "node:fs/promises";

/** Graphs larger than this hold their weights inline; they are not parsed. */
export const MAX_PARSED_GRAPH_BYTES = 64 * 1024 * 1024;
const MAX_DEPTH = 8;

// Field numbers from onnx.proto.
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const NODE_ATTRIBUTE = 5;
const ATTR_T = 5;
const ATTR_G = 6;
const ATTR_TENSORS = 10;
const ATTR_GRAPHS = 11;
const TENSOR_EXTERNAL_DATA = 13;

class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error("truncated varint");
      const b = this.buf[this.pos++] as number;
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    throw new Error("bad varint");
  }

  /** Calls `onField(field, start, end)` for length-delimited fields; skips the others. */
  fields(onField: (field: number, start: number, end: number) => void): void {
    while (this.pos < this.end) {
      const tag = this.varint();
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (wire === 0) this.varint();
      else if (wire === 1) this.pos += 8;
      else if (wire === 5) this.pos += 4;
      else if (wire === 2) {
        const len = this.varint();
        const start = this.pos;
        this.pos += len;
        if (this.pos > this.end) throw new Error("truncated field");
        onField(field, start, this.pos);
      } else throw new Error(`unsupported wire type ${wire}`);
    }
  }
}

function walk(buf: Uint8Array, start: number, end: number, kind: "model" | "graph" | "node" | "attr" | "tensor", out: Set<string>, depth: number): void {
  if (depth > MAX_DEPTH) return;
  const r = new Reader(buf, start, end);
  const text = (s: number, e: number): string => Buffer.from(buf.buffer, buf.byteOffset + s, e - s).toString("utf8");
  r.fields((f, s, e) => {
    if (kind === "model" && f === MODEL_GRAPH) walk(buf, s, e, "graph", out, depth + 1);
    else if (kind === "graph" && f === GRAPH_NODE) walk(buf, s, e, "node", out, depth + 1);
    else if (kind === "graph" && f === GRAPH_INITIALIZER) walk(buf, s, e, "tensor", out, depth + 1);
    else if (kind === "node" && f === NODE_ATTRIBUTE) walk(buf, s, e, "attr", out, depth + 1);
    else if (kind === "attr" && (f === ATTR_T || f === ATTR_TENSORS)) walk(buf, s, e, "tensor", out, depth + 1);
    else if (kind === "attr" && (f === ATTR_G || f === ATTR_GRAPHS)) walk(buf, s, e, "graph", out, depth + 1);
    else if (kind === "tensor" && f === TENSOR_EXTERNAL_DATA) {
      let key = "";
      let value = "";
      new Reader(buf, s, e).fields((ef, es, ee) => {
        if (ef === 1) key = text(es, ee);
        else if (ef === 2) value = text(es, ee);
      });
      if (key === "location" && value !== "") out.add(value);
    }
  });
}

/** Locations (relative to the graph's folder) of the external data of a serialized ModelProto. */
export function externalDataLocations(model: Uint8Array): string[] {
  const out = new Set<string>();
  walk(model, 0, model.length, "model", out, 0);
  return [...out].sort();
}

/**
 * The external-data locations of the graph file at `path`; undefined when it is too large to be
 * a weights-outside graph, unreadable or not parseable (callers then rely on file names).
 */
export async function graphFileLocations(path: string): Promise<string[] | undefined> {
  const st = await stat(path).catch(() => undefined);
  if (st === undefined || st.size > MAX_PARSED_GRAPH_BYTES) return undefined;
  try {
    const fh = await open(path, "r");
    try {
      const buf = Buffer.alloc(st.size);
      await fh.read(buf, 0, st.size, 0);
      return externalDataLocations(buf);
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
}
