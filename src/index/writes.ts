/**
 * The embedded index's writes, on its parts (`HybridIndex` runs them one at a time on its queue): an upsert
 * validates every entry before anything is stored, appends the ColBERT rows first (the only part that can fail
 * on I/O), then sets the document, sketch, dense and sparse parts slot by slot; a delete frees the slots in
 * every part.
 */
import type { BackendEntry, DeleteResult, UpsertResult } from "../backend/types.js";
import { checkDocEncoding, checkId, checkMetadata } from "../backend/validate.js";
import { ErrorCodes, M3Error } from "../errors.js";
import type { IndexParts } from "./parts.js";

/** Adds or replaces `entries` (a repeated id keeps the last); call inside the index's queue. */
export async function upsertNow(index: IndexParts, entries: BackendEntry[]): Promise<UpsertResult> {
  if (!Array.isArray(entries)) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `upsert expects an array of entries; got ${typeof entries}.`);
  const last = new Map<string, number>();
  const checked = entries.map((e, i) => {
    const where = `entries[${i}]`;
    if (e === null || typeof e !== "object") throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${where} must be an object { id, pageContent, metadata, encoding }.`);
    const id = checkId(e.id, `${where}.id`);
    if (typeof e.pageContent !== "string") throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${where}.pageContent must be a string; got ${typeof e.pageContent}.`);
    const metadata = checkMetadata(e.metadata, `${where}.metadata`);
    const enc = checkDocEncoding(e.encoding, index.denseDim, index.colbertDim, `${where}.encoding`);
    last.set(id, i);
    return { doc: { id, pageContent: e.pageContent, metadata }, enc };
  });
  let fresh = 0;
  for (const [id] of last) if (index.docs.slotOf(id) === undefined) fresh++;
  const capacity = index.docs.slotCount + Math.max(0, fresh - (index.docs.slotCount - index.docs.size));
  index.dense.reserve(capacity);
  index.sketch?.means.reserve(capacity);
  let added = 0;
  let replaced = 0;
  const kept = checked.filter(({ doc }, i) => last.get(doc.id) === i);
  const slots = index.docs.plannedSlots(kept.map(({ doc }) => doc.id));
  // ColBERT first (the only part that can fail on I/O), in one batched append when the store can.
  if (index.colbert.putMany !== undefined) await index.colbert.putMany(kept.map(({ enc }, i) => ({ slot: slots[i]!, matrix: enc.colbert })));
  else for (let i = 0; i < kept.length; i++) await index.colbert.put(slots[i]!, kept[i]!.enc.colbert);
  for (let i = 0; i < kept.length; i++) {
    const { doc, enc } = kept[i]!;
    if (index.docs.slotOf(doc.id) === undefined) added++;
    else replaced++;
    const slot = index.docs.put(doc);
    if (slot !== slots[i]) throw new Error(`unreachable: document ${doc.id} took slot ${slot}, planned ${slots[i]}`);
    index.sketch?.set(slot, enc.colbert);
    index.dense.set(slot, enc.dense);
    index.sparse.set(slot, enc.sparse);
  }
  return { added, replaced };
}

/** Removes ids (unknown ones reported); call inside the index's queue. */
export function deleteNow(index: IndexParts, ids: string[]): DeleteResult {
  const notFound: string[] = [];
  const slots: number[] = [];
  for (const id of ids) {
    const slot = index.docs.remove(id);
    if (slot === undefined) notFound.push(id);
    else slots.push(slot);
  }
  for (const slot of slots) {
    index.dense.remove(slot);
    index.colbert.remove(slot);
    index.sketch?.remove(slot);
  }
  index.sparse.removeMany(slots);
  return { deleted: slots.length, notFound };
}
