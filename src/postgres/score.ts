/**
 * The scoring stages of a search: the statements of scores-sql.ts, then ColBERT MaxSim in this process over the
 * payloads they return (colbert.ts). Each stage is one round trip to the server (the replica when reads go there).
 */
import type { CallOptions, ScoredCandidates, SearchMode, StoredDocument } from "../backend/types.js";
import { checkIds, checkQuery, checkSignal } from "../backend/validate.js";
import { ErrorCodes, M3Error } from "../errors.js";
import type { ModeScores } from "../math/scores.js";
import type { M3Encoding } from "../types.js";
import { describe } from "../util/validate.js";
import type { Shape } from "./candidates-sql.js";
import type { Payload, PgColbert } from "./colbert.js";
import type { ReadRouter } from "./replica.js";
import { scoresStatement, sketchStatement } from "./scores-sql.js";
import { preparedName, runStatement } from "./session.js";
import { decodeBase64 } from "./wire.js";

function checkModes(modes: unknown): ReadonlySet<SearchMode> {
  if (modes === null || typeof modes !== "object" || typeof (modes as Set<string>).has !== "function") {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `modes must be a Set of "dense", "sparse", "colbert"; got ${describe(modes)}.`);
  }
  return modes as ReadonlySet<SearchMode>;
}

/**
 * Exact scores of `ids` in `modes` and their documents, in one statement: dense and sparse computed by the
 * server; for ColBERT the server returns the stored rows (the codec's bytes) and MaxSim runs here.
 */
export async function scoreCandidatesWith(
  router: ReadRouter, s: Shape, colbert: PgColbert, query: M3Encoding, ids: string[], modes: ReadonlySet<SearchMode>, options: CallOptions,
): Promise<ScoredCandidates> {
  checkSignal(options.signal, "The candidate scoring");
  checkIds(ids, "ids");
  checkModes(modes);
  const q = checkQuery(query, modes, s.denseDim, s.colbertDim);
  const want = { dense: modes.has("dense"), sparse: modes.has("sparse"), rows: modes.has("colbert"), documents: true };
  const unique = [...new Set(ids)];
  if (unique.length === 0) return { docs: [], scores: [], stats: { scoreMs: 0, colbertMs: 0 } };
  const st = scoresStatement(s, q, unique, want);
  if (s.prepare) st.name = preparedName(st.text);
  const t0 = performance.now();
  const { value, received } = await router.read("The candidate scoring", (c) => runStatement(c, st));
  const t1 = performance.now();
  checkSignal(options.signal, "The candidate scoring");
  const byId = new Map(value.rows.map((r) => [r.id!, r]));
  const docs: StoredDocument[] = [];
  const scores: ModeScores[] = [];
  const payloads: Payload[] = [];
  for (const id of unique) {
    const r = byId.get(id);
    if (r === undefined) continue;
    docs.push({ id, pageContent: r.content!, metadata: JSON.parse(r.metadata!) as Record<string, unknown> });
    const sc: ModeScores = {};
    if (want.dense) sc.dense = Number(r.dense);
    if (want.sparse) sc.sparse = r.sparse === undefined || r.sparse === null ? 0 : Number(r.sparse);
    scores.push(sc);
    if (want.rows) payloads.push(r.rows === null || r.rows === undefined ? { tokens: 0, payload: new Uint8Array(0) } : { tokens: Number(r.tokens), payload: decodeBase64(r.rows) });
  }
  if (want.rows) {
    const c = await colbert.scoreRows(q.colbert!, payloads);
    scores.forEach((sc, i) => (sc.colbert = c[i]!));
  }
  const stats: ScoredCandidates["stats"] = { scoreMs: t1 - t0, colbertMs: performance.now() - t1 };
  if (received !== undefined) stats.wireBytes = received;
  return { docs, scores, stats };
}

/** Approximate ColBERT scores of `ids`: their sketched rows from the server (one statement), MaxSim here; NaN for an id not stored. */
export async function prescoreWith(router: ReadRouter, s: Shape, colbert: PgColbert, query: M3Encoding, ids: string[], options: CallOptions): Promise<Float32Array> {
  checkSignal(options.signal, "The approximate ColBERT scoring");
  checkIds(ids, "ids");
  const q = checkQuery(query, new Set(["colbert"]), s.denseDim, s.colbertDim);
  const out = new Float32Array(ids.length).fill(NaN);
  if (ids.length === 0) return out;
  const { value } = await router.read("The approximate ColBERT scoring", (c) => runStatement(c, sketchStatement(s, [...new Set(ids)])));
  checkSignal(options.signal, "The approximate ColBERT scoring");
  const byId = new Map(value.rows.map((r) => [r.id!, r]));
  const at: number[] = [];
  const items: Payload[] = [];
  ids.forEach((id, i) => {
    const r = byId.get(id);
    if (r === undefined) return;
    at.push(i);
    items.push({ tokens: Number(r.tokens), payload: decodeBase64(r.sketch!) });
  });
  const sq = colbert.sketchQuery(q.colbert!);
  const scores = await colbert.scoreSketches(sq.rows, q.colbert!.tokens, items);
  at.forEach((i, j) => (out[i] = scores[j]!));
  return out;
}
