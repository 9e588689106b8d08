/**
 * The CLI's Postgres side (`--pg <url> [--table t]`): the same WritableIndex / search interfaces as the embedded
 * index folder, over M3PostgresBackend. Rows are committed by every add and delete; `commit` stores the CLI's
 * settings (chunking, model, base folder) in the collection's properties, so every machine indexing into the same
 * collection sees them.
 */
import type { BackendEntry } from "../backend/types.js";
import { M3PostgresBackend, PG_DEFAULTS, type CollectionDescription } from "../open.js";
import { search } from "../retrieve/search.js";
import type { SourceDoc } from "./chunk.js";
import type { CliHit, CliModel, CliSearch, WritableIndex } from "./engine.js";
import { CliError, UsageError } from "./exit.js";
import type { CliState } from "./state.js";

/** Encodings held back for one file before they are written anyway (ColBERT bytes). */
const MAX_PENDING_BYTES = 256 << 20;

export interface PgTarget {
  url: string;
  table: string;
}

/** `--pg` / `--table` as given (the table defaults to the library's). */
export function pgTarget(url: string | undefined, table: string | undefined): PgTarget | undefined {
  if (url === undefined) {
    if (table !== undefined) throw new UsageError("--table needs --pg <url>");
    return undefined;
  }
  if (!/^postgres(ql)?:\/\/./.test(url)) throw new UsageError(`--pg must be a URL such as postgres://user:password@localhost:5432/db; got "${url}"`);
  const t = table ?? PG_DEFAULTS.table;
  if (!/^[a-z_][a-z0-9_]{0,47}$/.test(t)) throw new UsageError(`--table must be lower-case letters, digits and _ (at most 48, not starting with a digit); got "${t}"`);
  return { url, table: t };
}

/** "postgres://host:port/db table t" (no credentials), for messages. */
export function pgLabel(t: PgTarget): string {
  try {
    const u = new URL(t.url);
    return `postgres://${u.hostname}${u.port ? `:${u.port}` : ""}${u.pathname} table ${t.table}`;
  } catch {
    return `table ${t.table}`;
  }
}

/** The collection's description and the CLI settings recorded in it (undefined when there is no collection). */
export async function readPgCollection(t: PgTarget): Promise<{ description: CollectionDescription; state: CliState | undefined } | undefined> {
  const description = await M3PostgresBackend.describeCollection({ connectionString: t.url, table: t.table });
  if (description === undefined) return undefined;
  const s = description.properties["cli"] as Partial<CliState> | undefined;
  const ok = s !== undefined && s !== null && s.version === 1 && typeof s.baseDir === "string" && typeof s.modelPath === "string" &&
    typeof s.chunkSize === "number" && typeof s.chunkOverlap === "number";
  return { description, state: ok ? (s as CliState) : undefined };
}

export async function openPgForWrite(t: PgTarget, model: CliModel): Promise<WritableIndex> {
  const backend = await M3PostgresBackend.connect({ connectionString: t.url, table: t.table, fingerprint: await model.encoder.fingerprint(), poolSize: 2 });
  const docs: { id: string; metadata: Record<string, unknown> }[] = [];
  for await (const d of backend.documents({ pageSize: 1000 })) docs.push({ id: d.id, metadata: d.metadata });
  let size = docs.length;
  // A file's chunks are written in one transaction when it ends, so an interrupted run never leaves a file half
  // indexed (a file whose encodings pass MAX_PENDING_BYTES is written in parts).
  let pending: BackendEntry[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    const r = await backend.upsert(pending);
    size += r.added;
    pending = [];
    pendingBytes = 0;
  };
  return {
    get size() {
      return size;
    },
    documents: () => docs,
    async delete(ids) {
      size -= (await backend.delete(ids)).deleted;
    },
    async add(batch: SourceDoc[]) {
      const encs = await model.encode(batch.map((d) => d.text));
      batch.forEach((d, i) => {
        const encoding = encs[i]!;
        pending.push({ id: d.id, pageContent: d.text, metadata: d.metadata, encoding });
        pendingBytes += encoding.colbert!.data.byteLength;
      });
      if (pendingBytes > MAX_PENDING_BYTES) await flush();
      return encs.reduce((s, e) => s + e.tokenCount, 0);
    },
    endFile: flush,
    commit: (state) => backend.setProperties({ cli: state }),
    close: () => backend.close(),
  };
}

/** A collection opened for `m3 query`: checks the model against the collection's. */
export async function openPgForSearch(t: PgTarget, model: CliModel): Promise<{ search(q: Parameters<typeof search>[1], o: CliSearch): Promise<CliHit[]>; close(): Promise<void> }> {
  const backend = await M3PostgresBackend.connect({ connectionString: t.url, table: t.table, fingerprint: await model.encoder.fingerprint(), create: false, poolSize: 2 });
  return {
    async search(query, o) {
      const hits = await search(backend, query, { k: o.k, candidates: o.candidates, weights: o.weights, modes: o.modes, fusion: o.fusion });
      return hits.map((h) => ({ id: h.id, score: h.score, scores: h.scores, text: h.document.pageContent, metadata: h.document.metadata }));
    },
    close: () => backend.close(),
  };
}

/** `m3 info --pg`: the description, counts, sizes and the documents' metadata (for source files). */
export async function pgInfo(t: PgTarget): Promise<{
  description: CollectionDescription;
  state: CliState | undefined;
  info: Awaited<ReturnType<M3PostgresBackend["info"]>>;
  documents: { id: string; metadata: Record<string, unknown> }[];
}> {
  const found = await readPgCollection(t);
  if (found === undefined) throw new CliError(`${pgLabel(t)} is not an M3 collection; create one with: m3 index <files> --model <dir> --pg <url> --table ${t.table}`);
  const { description, state } = found;
  const backend = await M3PostgresBackend.connect({
    connectionString: t.url,
    table: t.table,
    fingerprint: description.fingerprint,
    denseDim: description.denseDim,
    colbertDim: description.colbertDim,
    create: false,
    poolSize: 1,
  });
  try {
    const info = await backend.info();
    const documents: { id: string; metadata: Record<string, unknown> }[] = [];
    for await (const d of backend.documents({ pageSize: 1000 })) documents.push({ id: d.id, metadata: d.metadata });
    return { description, state, info, documents };
  } finally {
    await backend.close();
  }
}
