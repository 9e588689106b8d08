/** A byte-bounded LRU of raw record payloads keyed by slot (Map insertion order = recency). */
export class ByteLru {
  private readonly map = new Map<number, Uint8Array>();
  bytes = 0;

  constructor(readonly capacity: number) {}

  get(slot: number): Uint8Array | undefined {
    const v = this.map.get(slot);
    if (v !== undefined) {
      this.map.delete(slot);
      this.map.set(slot, v);
    }
    return v;
  }

  /** Keeps `value` (which must not share a larger buffer) unless it alone exceeds the capacity. */
  set(slot: number, value: Uint8Array): void {
    this.delete(slot);
    if (value.byteLength > this.capacity) return;
    this.map.set(slot, value);
    this.bytes += value.byteLength;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.capacity) break;
      this.map.delete(k);
      this.bytes -= v.byteLength;
    }
  }

  delete(slot: number): void {
    const v = this.map.get(slot);
    if (v !== undefined) {
      this.map.delete(slot);
      this.bytes -= v.byteLength;
    }
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }
}
