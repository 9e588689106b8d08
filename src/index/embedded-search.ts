/**
 * The embedded index's side of a search (see backend/types.ts): candidates from the HNSW graph
 * (or a scan of the matching documents when a filter keeps few) ∪ the sparse inverted lists ∪
 * the ColBERT sketch's graph of row means, then exact dense / sparse / ColBERT scores of the
 * candidates (ids and numbers), approximate ColBERT scores from the sketch, and the documents of
 * the final results.
 */
import { matchesFilter, parseFilter, type Filter } from "../backend/filter.js";
import type { CandidatePool, CandidateRequest, ScoredCandidates, SearchMode, StoredDocument } from "../backend/types.js";
import { checkIds, checkQuery, checkSignal } from "../backend/validate.js";
import { ErrorCodes, M3Error } from "../errors.js";
import type { ModeScores } from "../math/scores.js";
import type { M3Encoding } from "../types.js";
import { checkInt } from "../util/validate.js";
import type { OpenParts } from "./parts.js";

/** Below this fraction of matching documents a filtered dense search scans the matches instead of the graph. */
const FILTER_SCAN_FRACTION = 0.1;

/** Slots whose document matches `filter` (ascending), or undefined for no filter. */
export function matchingSlots(index: OpenParts, filter: Filter | undefined): number[] | undefined {
  if (filter === undefined) return undefined;
  const out: number[] = [];
  for (const slot of index.docs.slots()) if (matchesFilter(filter, index.docs.at(slot)!)) out.push(slot);
  return out;
}

export function embeddedCandidates(index: OpenParts, query: M3Encoding, request: CandidateRequest): CandidatePool {
  index.checkOpen();
  checkSignal(request.signal, "The candidate search");
  const sources = new Set(Object.keys(request.depth).filter((s) => (request.depth as Record<string, number>)[s]! > 0)) as Set<"dense" | "sparse">;
  const nColbert = index.sketch === undefined ? 0 : checkInt("colbertDepth", request.colbertDepth ?? 0, 0, Number.MAX_SAFE_INTEGER);
  const q = checkQuery(query, nColbert > 0 ? new Set<string>([...sources, "colbert"]) : sources, index.denseDim, index.colbertDim);
  let t = performance.now();
  const lap = () => {
    const now = performance.now();
    const d = now - t;
    t = now;
    return d;
  };
  const allowed = matchingSlots(index, parseFilter(request.filter));
  let accept: ((slot: number) => boolean) | undefined;
  if (allowed !== undefined) {
    const mask = new Uint8Array(index.docs.slotCount);
    for (const s of allowed) mask[s] = 1;
    accept = (slot) => mask[slot] === 1;
  }
  const stats: CandidatePool["stats"] = { filterMs: lap(), denseMs: 0, sparseMs: 0 };
  const population = allowed?.length ?? index.docs.size;
  const deepest = Math.max(0, nColbert, ...Object.values(request.depth).map((n) => n ?? 0));
  const slotIds = (slots: Iterable<number>) => Array.from(slots, (s) => index.docs.at(s)!.id);
  if (deepest >= population) {
    return { ids: slotIds(allowed ?? index.docs.slots()), exhaustive: true, matching: population, stats };
  }
  const set = new Set<number>();
  const scan = allowed !== undefined && allowed.length < FILTER_SCAN_FRACTION * index.docs.size;
  const nDense = request.depth.dense ?? 0;
  if (nDense > 0) {
    const r = scan ? index.dense.scan(q.dense!, nDense, accept) : index.dense.search(q.dense!, nDense, accept);
    for (const s of r.slots) set.add(s);
    stats.denseMs = lap();
  }
  const nSparse = request.depth.sparse ?? 0;
  if (nSparse > 0) {
    const r = index.sparse.search(q.sparse!, nSparse, accept);
    for (const s of r.slots) set.add(s);
    stats.sparsePostingsVisited = r.postingsVisited;
    stats.sparsePostingsTotal = r.postingsTotal;
    stats.sparseMs = lap();
  }
  if (nColbert > 0) {
    for (const slot of index.sketch!.search(index.sketch!.sketchQuery(q.colbert!), nColbert, accept, scan)) set.add(slot);
    stats.colbertMs = lap();
  }
  return { ids: slotIds(Uint32Array.from(set).sort()), exhaustive: false, matching: allowed?.length, stats };
}

export async function embeddedScores(
  index: OpenParts,
  query: M3Encoding,
  ids: string[],
  modes: ReadonlySet<SearchMode>,
  signal?: AbortSignal,
): Promise<ScoredCandidates> {
  index.checkOpen();
  checkSignal(signal, "The candidate scoring");
  checkIds(ids, "ids");
  const q = checkQuery(query, modes, index.denseDim, index.colbertDim);
  const t0 = performance.now();
  const slots: number[] = [];
  const scoredIds: string[] = [];
  const seen = new Set<number>();
  for (const id of ids) {
    const slot = index.docs.slotOf(id);
    if (slot === undefined || seen.has(slot)) continue;
    seen.add(slot);
    slots.push(slot);
    scoredIds.push(id);
  }
  const scores: ModeScores[] = slots.map((slot) => {
    const s: ModeScores = {};
    if (modes.has("dense")) s.dense = index.dense.score(q.dense!, slot);
    if (modes.has("sparse")) s.sparse = index.sparse.score(q.sparse!, slot);
    return s;
  });
  const t1 = performance.now();
  if (modes.has("colbert") && slots.length > 0) {
    const c = await index.colbert.score(q.colbert!, Uint32Array.from(slots));
    for (let i = 0; i < slots.length; i++) scores[i]!.colbert = Number.isNaN(c[i]!) ? 0 : c[i]!;
  }
  const t2 = performance.now();
  return { ids: scoredIds, scores, stats: { scoreMs: t1 - t0, colbertMs: t2 - t1 } };
}

/** Copies of the stored documents of `ids`, in the order asked (undefined for an unknown id); `dense` adds the stored vectors. */
export function embeddedDocuments(index: OpenParts, ids: string[], dense: boolean, signal: AbortSignal | undefined, what: string): (StoredDocument & { dense?: Float32Array } | undefined)[] {
  index.checkOpen();
  checkSignal(signal, what);
  checkIds(ids, "ids");
  return ids.map((id) => {
    const slot = index.docs.slotOf(id);
    if (slot === undefined) return undefined;
    const d = index.docs.at(slot)!;
    const doc: StoredDocument & { dense?: Float32Array } = { id: d.id, pageContent: d.pageContent, metadata: { ...d.metadata } };
    if (dense) doc.dense = Float32Array.from(index.dense.vector(slot));
    return doc;
  });
}

/** Approximate ColBERT scores of `ids` from the sketch (NaN for unknown ids). */
export async function embeddedPrescore(index: OpenParts, query: M3Encoding, ids: string[], signal?: AbortSignal): Promise<Float32Array> {
  index.checkOpen();
  checkSignal(signal, "The approximate ColBERT scoring");
  checkIds(ids, "ids");
  const q = checkQuery(query, new Set(["colbert"]), index.denseDim, index.colbertDim);
  const sketch = index.sketch;
  if (sketch === undefined) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, "This index has no ColBERT sketch (it was created with sketchDim 0, or saved before format 2): it cannot prescore; search without the two tiers, or rebuild the index.");
  }
  const at: number[] = [];
  const slots: number[] = [];
  ids.forEach((id, i) => {
    const slot = index.docs.slotOf(id);
    if (slot !== undefined) {
      at.push(i);
      slots.push(slot);
    }
  });
  const scores = await sketch.prescore(sketch.sketchQuery(q.colbert!), Uint32Array.from(slots));
  const out = new Float32Array(ids.length).fill(NaN);
  at.forEach((i, j) => (out[i] = scores[j]!));
  return out;
}
