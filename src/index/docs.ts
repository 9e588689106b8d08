/**
 * Documents by id: each live document owns a dense integer slot; freed slots are re-used
 * (lowest first) so the other parts stay compact.
 */

/** A stored document. `metadata` is a plain JSON-compatible object. */
export interface IndexedDocument {
  id: string;
  pageContent: string;
  metadata: Record<string, unknown>;
}

export class DocTable {
  private readonly byId = new Map<string, number>();
  private bySlot: (IndexedDocument | undefined)[] = [];
  /** Free slots below `bySlot.length`, kept as a min-heap. */
  private free: number[] = [];

  get size(): number {
    return this.byId.size;
  }

  /** One past the highest slot ever in use (the length of per-slot arrays). */
  get slotCount(): number {
    return this.bySlot.length;
  }

  slotOf(id: string): number | undefined {
    return this.byId.get(id);
  }

  at(slot: number): IndexedDocument | undefined {
    return this.bySlot[slot];
  }

  /**
   * The slots that `put` would give `ids` (distinct), called in this order, without claiming
   * them: an existing id keeps its slot, new ids take the free slots lowest first, then new ones.
   */
  plannedSlots(ids: readonly string[]): number[] {
    const free = [...this.free].sort((a, b) => a - b);
    let nextFree = 0;
    let next = this.bySlot.length;
    return ids.map((id) => this.byId.get(id) ?? (nextFree < free.length ? free[nextFree++]! : next++));
  }

  /** Stores `doc`, replacing a document with the same id in place; returns its slot. */
  put(doc: IndexedDocument): number {
    const existing = this.byId.get(doc.id);
    if (existing !== undefined) {
      this.bySlot[existing] = doc;
      return existing;
    }
    const slot = this.free.length > 0 ? heapPop(this.free) : this.bySlot.length;
    this.bySlot[slot] = doc;
    this.byId.set(doc.id, slot);
    return slot;
  }

  /** Removes `id`; returns its former slot or undefined. */
  remove(id: string): number | undefined {
    const slot = this.byId.get(id);
    if (slot === undefined) return undefined;
    this.byId.delete(id);
    this.bySlot[slot] = undefined;
    heapPush(this.free, slot);
    return slot;
  }

  /** Live slots in ascending order. */
  *slots(): IterableIterator<number> {
    for (let s = 0; s < this.bySlot.length; s++) if (this.bySlot[s] !== undefined) yield s;
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  /** Rebuilds a table from documents by slot (undefined = free). */
  static fromSlots(bySlot: (IndexedDocument | undefined)[]): DocTable {
    const t = new DocTable();
    t.bySlot = bySlot;
    bySlot.forEach((d, slot) => {
      if (d === undefined) heapPush(t.free, slot);
      else t.byId.set(d.id, slot);
    });
    return t;
  }
}

function heapPush(h: number[], x: number): void {
  h.push(x);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p]! <= x) break;
    h[i] = h[p]!;
    i = p;
  }
  h[i] = x;
}

function heapPop(h: number[]): number {
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length > 0) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const c = l + 1 < h.length && h[l + 1]! < h[l]! ? l + 1 : l;
      if (h[c]! >= last) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
  return top;
}
