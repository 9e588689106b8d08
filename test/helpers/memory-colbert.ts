/**
 * A tiny in-memory `ColbertStore` for tests (float32, no pooling). persist() writes
 * `colbert-data.<g>.bin` (all live records) and `colbert-offsets.<g>.bin`, so the index's
 * persistence protocol is exercised without the real store.
 */
import * as fsp from "node:fs/promises";
import { join } from "node:path";
import type { ColbertCompaction, ColbertManifestPart, ColbertStore, ColbertStoreFactory, ColbertStoreOptions } from "../../src/index/colbert/types.js";
import { colbertScore } from "../../src/math/scores.js";
import type { MultiVector } from "../../src/types.js";

export class MemoryColbertStore implements ColbertStore {
  readonly codec = "float32" as const;
  readonly poolFactor = 1;
  private readonly rows = new Map<number, MultiVector>();
  constructor(readonly dim: number) {}

  get size(): number {
    return this.rows.size;
  }
  async put(slot: number, m: MultiVector): Promise<void> {
    this.rows.set(slot, { data: m.data.slice(), tokens: m.tokens, dim: m.dim });
  }
  remove(slot: number): void {
    this.rows.delete(slot);
  }
  has(slot: number): boolean {
    return this.rows.has(slot);
  }
  async get(slot: number): Promise<MultiVector | undefined> {
    return this.rows.get(slot);
  }
  async score(q: MultiVector, slots: Uint32Array): Promise<Float32Array> {
    return Float32Array.from(slots, (s) => {
      const m = this.rows.get(s);
      return m === undefined ? NaN : colbertScore(q, m);
    });
  }
  stats() {
    let bytes = 0;
    for (const m of this.rows.values()) bytes += m.data.byteLength;
    return { liveBytes: bytes, totalBytes: bytes, residentBytes: bytes, liveSlots: this.rows.size };
  }
  async persist(dir: string, generation: number): Promise<ColbertManifestPart> {
    const slots = [...this.rows.keys()].sort((a, b) => a - b);
    const table = new Uint32Array(slots.length * 2);
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    slots.forEach((s, i) => {
      const m = this.rows.get(s)!;
      table[2 * i] = s;
      table[2 * i + 1] = m.tokens;
      chunks.push(new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength));
      bytes += m.data.byteLength;
    });
    const dataFile = `colbert-data.${generation}.bin`;
    const offsetsFile = `colbert-offsets.${generation}.bin`;
    await fsp.writeFile(join(dir, dataFile), Buffer.concat(chunks));
    await fsp.writeFile(join(dir, offsetsFile), new Uint8Array(table.buffer));
    return { codec: "float32", poolFactor: 1, dim: this.dim, dataFile, committedBytes: bytes, offsetsFile, liveSlots: slots.length, liveBytes: bytes };
  }
  async compact(dir: string, generation: number): Promise<ColbertCompaction> {
    return { part: await this.persist(dir, generation), obsoleteFiles: [] };
  }
  async close(): Promise<void> {}

  static async open(dir: string, part: ColbertManifestPart): Promise<MemoryColbertStore> {
    const store = new MemoryColbertStore(part.dim);
    const table = new Uint32Array(new Uint8Array(await fsp.readFile(join(dir, part.offsetsFile))).buffer);
    const data = new Float32Array(new Uint8Array(await fsp.readFile(join(dir, part.dataFile))).slice(0, part.committedBytes).buffer);
    let off = 0;
    for (let i = 0; i < table.length; i += 2) {
      const tokens = table[i + 1]!;
      const n = tokens * part.dim;
      store.rows.set(table[i]!, { data: data.slice(off, off + n), tokens, dim: part.dim });
      off += n;
    }
    return store;
  }
}

export const memoryColbertFactory: ColbertStoreFactory = {
  async create(dim: number, _options?: ColbertStoreOptions) {
    return new MemoryColbertStore(dim);
  },
  open: (dir, part) => MemoryColbertStore.open(dir, part),
};
