/**
 * The scoring stages of a search: the statements of scores-sql.ts, then ColBERT MaxSim in this process over the
 * payloads they return (colbert.ts; payloads by binary COPY, copy-out.ts); scores carry ids and numbers only, and
 * the documents of the final results come in one more statement. Each stage is one round trip to the server (the
 * replica when reads go there).
 */
import type { CallOptions, FetchedDocuments, ScoredCandidates, SearchMode, StoredDocument } from "../backend/types.js";
import { checkIds, checkQuery, checkSignal } from "../backend/validate.js";
import { ErrorCodes, M3Error } from "../errors.js";
import type { ModeScores } from "../math/scores.js";
import type { M3Encoding } from "../types.js";
import { describe } from "../util/validate.js";
import type { Shape } from "./candidates-sql.js";
import type { Payload, PgColbert } from "./colbert.js";
import type { ReadRouter } from "./replica.js";
import { alignedBytes, copyOutRows } from "./copy-out.js";
import { documentsStatement, rowsCopy, scoresStatement, sketchCopy } from "./scores-sql.js";
import { preparedName, runStatement } from "./session.js";
import { parseVectorText } from "./wire.js";

function checkModes(modes: unknown): ReadonlySet<SearchMode> {
  if (modes === null || typeof modes !== "object" || typeof (modes as Set<string>).has !== "function") {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `modes must be a Set of "dense", "sparse", "colbert"; got ${describe(modes)}.`);
  }
  return modes as ReadonlySet<SearchMode>;
}

const text = (b: Buffer | null | undefined): string => (b === null || b === undefined ? "" : b.toString("utf8"));

/**
 * Exact scores of `ids` in `modes`, no documents: dense and sparse computed by the server in one statement; for
 * ColBERT the stored rows (the codec's bytes) come back by binary COPY and MaxSim runs here. ColBERT alone (the
 * exact tier of a two-tier search) is one COPY; ColBERT with dense or sparse is the statement, then the COPY, on
 * one connection (two snapshots: a document replaced between the two is scored in part as it was, in part as it is).
 */
export async function scoreCandidatesWith(
  router: ReadRouter, s: Shape, colbert: PgColbert, query: M3Encoding, ids: string[], modes: ReadonlySet<SearchMode>, options: CallOptions,
): Promise<ScoredCandidates> {
  checkSignal(options.signal, "The candidate scoring");
  checkIds(ids, "ids");
  checkModes(modes);
  const q = checkQuery(query, modes, s.denseDim, s.colbertDim);
  const want = { dense: modes.has("dense"), sparse: modes.has("sparse"), rows: modes.has("colbert"), documents: false };
  const unique = [...new Set(ids)];
  if (unique.length === 0) return { ids: [], scores: [], stats: { scoreMs: 0, colbertMs: 0 } };
  const statement = want.dense || want.sparse || !want.rows;
  const st = statement ? scoresStatement(s, q, unique, want) : undefined;
  if (st !== undefined && s.prepare) st.name = preparedName(st.text);
  const t0 = performance.now();
  const { value, received } = await router.read("The candidate scoring", async (c) => ({
    rows: st === undefined ? undefined : (await runStatement(c, st)).rows,
    copy: want.rows ? await copyOutRows(c, rowsCopy(s, unique, false)) : undefined,
  }));
  const t1 = performance.now();
  checkSignal(options.signal, "The candidate scoring");
  const byId = new Map<string, { sc: ModeScores; payload?: Payload }>();
  if (value.rows !== undefined) {
    for (const r of value.rows) {
      const sc: ModeScores = {};
      if (want.dense) sc.dense = Number(r.dense);
      if (want.sparse) sc.sparse = r.sparse === undefined || r.sparse === null ? 0 : Number(r.sparse);
      byId.set(r.id!, { sc });
    }
  }
  for (const f of value.copy ?? []) {
    const id = text(f[0]);
    const payload: Payload = f[1] === null || f[2] === null ? { tokens: 0, payload: new Uint8Array(0) } : { tokens: f[1]!.readInt32BE(0), payload: alignedBytes(f[2]!) };
    const d = byId.get(id);
    if (d !== undefined) d.payload = payload;
    else if (!statement) byId.set(id, { sc: {}, payload });
  }
  const scoredIds: string[] = [];
  const scores: ModeScores[] = [];
  const payloads: Payload[] = [];
  for (const id of unique) {
    const r = byId.get(id);
    // With two statements, a document deleted between them has no payload: left out, as if deleted before.
    if (r === undefined || (want.rows && r.payload === undefined)) continue;
    scoredIds.push(id);
    scores.push(r.sc);
    if (want.rows) payloads.push(r.payload!);
  }
  if (want.rows) {
    const c = await colbert.scoreRows(q.colbert!, payloads);
    scores.forEach((sc, i) => (sc.colbert = c[i]!));
  }
  const stats: ScoredCandidates["stats"] = { scoreMs: t1 - t0, colbertMs: performance.now() - t1 };
  if (received !== undefined) stats.wireBytes = received;
  return { ids: scoredIds, scores, stats };
}

/** The documents of `ids` in the order asked (undefined for an id not stored), one statement; `dense` adds the stored vectors. */
export async function documentsWith(
  router: ReadRouter, s: Shape, ids: string[], withDense: boolean, options: CallOptions, what: string,
): Promise<{ docs: ((StoredDocument & { dense?: Float32Array }) | undefined)[]; stats: FetchedDocuments["stats"] }> {
  checkSignal(options.signal, what);
  checkIds(ids, "ids");
  if (ids.length === 0) return { docs: [], stats: { fetchMs: 0 } };
  const t = performance.now();
  const { value, received } = await router.read(what, (c) => runStatement(c, documentsStatement(s, [...new Set(ids)], withDense)));
  checkSignal(options.signal, what);
  const byId = new Map(value.rows.map((r) => [r.id!, r]));
  const docs = ids.map((id) => {
    const r = byId.get(id);
    if (r === undefined) return undefined;
    const d: StoredDocument & { dense?: Float32Array } = { id, pageContent: r.content!, metadata: JSON.parse(r.metadata!) as Record<string, unknown> };
    if (withDense) d.dense = parseVectorText(r.dense!);
    return d;
  });
  const stats: FetchedDocuments["stats"] = { fetchMs: performance.now() - t };
  if (received !== undefined) stats.wireBytes = received;
  return { docs, stats };
}

/** Approximate ColBERT scores of `ids`: their sketched rows from the server (one binary COPY), MaxSim here; NaN for an id not stored. */
export async function prescoreWith(router: ReadRouter, s: Shape, colbert: PgColbert, query: M3Encoding, ids: string[], options: CallOptions): Promise<Float32Array> {
  checkSignal(options.signal, "The approximate ColBERT scoring");
  checkIds(ids, "ids");
  const q = checkQuery(query, new Set(["colbert"]), s.denseDim, s.colbertDim);
  const out = new Float32Array(ids.length).fill(NaN);
  if (ids.length === 0) return out;
  const { value } = await router.read("The approximate ColBERT scoring", (c) => copyOutRows(c, sketchCopy(s, [...new Set(ids)])));
  checkSignal(options.signal, "The approximate ColBERT scoring");
  const byId = new Map(value.map((f) => [text(f[0]), f]));
  const at: number[] = [];
  const items: Payload[] = [];
  ids.forEach((id, i) => {
    const f = byId.get(id);
    if (f === undefined) return;
    at.push(i);
    items.push({ tokens: f[1]!.readInt32BE(0), payload: alignedBytes(f[2]!) });
  });
  const sq = colbert.sketchQuery(q.colbert!);
  const scores = await colbert.scoreSketches(sq.rows, q.colbert!.tokens, items);
  at.forEach((i, j) => (out[i] = scores[j]!));
  return out;
}
