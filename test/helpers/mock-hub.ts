/**
 * A local stand-in for the Hugging Face Hub on 127.0.0.1 (random port), serving what
 * resolvePretrained calls:
 * - GET  /api/models/{repo}/tree/{rev}?recursive=true   (paged with a Link header)
 * - POST /api/models/{repo}/paths-info/{rev}
 * - HEAD/GET /{repo}/resolve/{rev}/{path}: X-Repo-Commit, ETag (git blob sha1) for regular files;
 *   LFS files answer 302 with Location /cdn/{sha256}, X-Linked-Etag (sha256), X-Linked-Size
 * - GET  /cdn/{sha256}: the bytes, with Range (206)
 * Faults are scripted per request (status, a connection cut mid-body, a corrupt body). Every
 * request is logged. The server closes itself after `idleMs` without requests.
 */
import { createHash } from "node:crypto";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface MockFile {
  content: Buffer;
  /** Stored with Git LFS (served through the CDN redirect). */
  lfs: boolean;
}

export interface MockRepo {
  commit: string;
  files: Map<string, MockFile>;
  /** Answer 401 (GatedRepo) to every request unless the token matches. */
  gatedToken?: string;
}

export type FaultKind = "status" | "cut" | "corrupt";

export interface Fault {
  /** Which request: e.g. (r) => r.method === "GET" && r.path.startsWith("/cdn/"). */
  match: (r: LoggedRequest) => boolean;
  kind: FaultKind;
  /** For kind "status". */
  status?: number;
  /** How many matching requests to fault. @default 1 */
  times?: number;
}

export interface LoggedRequest {
  method: string;
  path: string;
  range: string | undefined;
  authorization: string | undefined;
}

export const gitBlobSha1 = (b: Buffer): string =>
  createHash("sha1").update(Buffer.from(`blob ${b.length}\0`)).update(b).digest("hex");
export const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
export const fakeCommit = (seed: string): string => createHash("sha1").update(seed).digest("hex");

export class MockHub {
  readonly repos = new Map<string, MockRepo>();
  readonly log: LoggedRequest[] = [];
  faults: Fault[] = [];
  /** Entries per page of the tree listing. */
  pageSize = 1000;
  /** A hostile or broken hub: edits the headers of every answer before they are sent; may return another status. */
  rewriteHeaders: ((r: LoggedRequest, status: number, headers: Record<string, string>) => number | void) | undefined;
  private server: Server | undefined;
  private idle: NodeJS.Timeout | undefined;
  url = "";

  constructor(private readonly idleMs = 60_000) {}

  addRepo(name: string, files: Record<string, string | Buffer | { content: Buffer | string; lfs?: boolean }>, commit = fakeCommit(name)): MockRepo {
    const map = new Map<string, MockFile>();
    for (const [p, v] of Object.entries(files)) {
      if (typeof v === "string" || Buffer.isBuffer(v)) {
        const content = Buffer.from(v);
        map.set(p, { content, lfs: content.length > 1024 || p.endsWith(".onnx_data") || p.endsWith(".pt") });
      } else map.set(p, { content: Buffer.from(v.content), lfs: v.lfs ?? false });
    }
    const repo: MockRepo = { commit, files: map };
    this.repos.set(name, repo);
    return repo;
  }

  /** Etag the hub gives a file (sha256 for LFS, git blob sha1 otherwise). */
  etagOf(repo: string, path: string): string {
    const f = this.repos.get(repo)?.files.get(path);
    if (f === undefined) throw new Error(`no ${repo}/${path}`);
    return f.lfs ? sha256(f.content) : gitBlobSha1(f.content);
  }

  requests(filter?: (r: LoggedRequest) => boolean): LoggedRequest[] {
    return filter === undefined ? [...this.log] : this.log.filter(filter);
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.touch();
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(err));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.touch();
    return this.url;
  }

  async close(): Promise<void> {
    if (this.idle !== undefined) clearTimeout(this.idle);
    const s = this.server;
    this.server = undefined;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private touch(): void {
    if (this.idle !== undefined) clearTimeout(this.idle);
    this.idle = setTimeout(() => void this.close(), this.idleMs);
    this.idle.unref();
  }

  private takeFault(r: LoggedRequest): Fault | undefined {
    const f = this.faults.find((x) => (x.times ?? 1) > 0 && x.match(r));
    if (f !== undefined) f.times = (f.times ?? 1) - 1;
    return f;
  }

  /** Finds repo + revision in a path like "ORG/NAME/<rest>" (revision may be url-encoded). */
  private repoOf(parts: string[]): { name: string; repo: MockRepo | undefined } {
    const name = `${parts[0]}/${parts[1]}`;
    return { name, repo: this.repos.get(name) };
  }

  private revisionOk(repo: MockRepo, rev: string): boolean {
    return rev === "main" || rev === repo.commit;
  }

  private deny(res: ServerResponse, repo: MockRepo | undefined, auth: string | undefined): boolean {
    if (repo === undefined) {
      res.writeHead(401, { "X-Error-Code": "RepoNotFound", "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: "Repository not found" }));
      return true;
    }
    if (repo.gatedToken !== undefined && auth !== `Bearer ${repo.gatedToken}`) {
      res.writeHead(401, { "X-Error-Code": "GatedRepo", "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: "Access to model is restricted" }));
      return true;
    }
    return false;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? "/", this.url);
    const entry: LoggedRequest = {
      method: req.method ?? "GET",
      path: decodeURIComponent(u.pathname),
      range: req.headers.range,
      authorization: req.headers.authorization,
    };
    this.log.push(entry);
    const rewrite = this.rewriteHeaders;
    if (rewrite !== undefined) {
      const writeHead = res.writeHead.bind(res) as (status: number, headers?: Record<string, string>) => ServerResponse;
      (res as { writeHead: unknown }).writeHead = (status: number, headers: Record<string, string> = {}) => {
        const h = { ...headers };
        return writeHead(rewrite(entry, status, h) ?? status, h);
      };
    }
    const fault = this.takeFault(entry);
    if (fault?.kind === "status") {
      res.writeHead(fault.status ?? 500, { "Content-Type": "text/plain" });
      res.end("scripted failure");
      return;
    }
    const parts = u.pathname.split("/").filter(Boolean).map(decodeURIComponent);

    if (parts[0] === "cdn" && parts[1] !== undefined) return this.serveBlob(req, res, parts[1], fault);

    if (parts[0] === "api" && parts[1] === "models") {
      const { repo } = this.repoOf(parts.slice(2));
      if (this.deny(res, repo, entry.authorization)) return;
      const r = repo as MockRepo;
      const op = parts[4];
      const rev = parts[5] ?? "main";
      if (!this.revisionOk(r, rev)) {
        res.writeHead(404, { "X-Error-Code": "RevisionNotFound" });
        res.end();
        return;
      }
      if (op === "tree") return this.tree(res, r, u, parts.slice(2, 6).join("/"));
      if (op === "paths-info") {
        const body = await new Promise<string>((resolve) => {
          let s = "";
          req.on("data", (c: Buffer) => (s += c.toString()));
          req.on("end", () => resolve(s));
        });
        const paths = (JSON.parse(body) as { paths: string[] }).paths;
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify(paths.filter((p) => r.files.has(p)).map((p) => this.describeFile(r, p))));
        return;
      }
    }

    if (parts[2] === "resolve" && parts[3] !== undefined) {
      const { repo } = this.repoOf(parts);
      if (this.deny(res, repo, entry.authorization)) return;
      const r = repo as MockRepo;
      const rev = parts[3];
      const path = parts.slice(4).join("/");
      if (!this.revisionOk(r, rev)) {
        res.writeHead(404, { "X-Error-Code": "RevisionNotFound", "X-Repo-Commit": r.commit });
        res.end();
        return;
      }
      const f = r.files.get(path);
      if (f === undefined) {
        res.writeHead(404, { "X-Error-Code": "EntryNotFound", "X-Repo-Commit": r.commit });
        res.end();
        return;
      }
      if (f.lfs) {
        const sha = sha256(f.content);
        res.writeHead(302, {
          Location: `${this.url}/cdn/${sha}?sig=1`,
          "X-Repo-Commit": r.commit,
          "X-Linked-Etag": `"${sha}"`,
          "X-Linked-Size": String(f.content.length),
          ETag: `"${gitBlobSha1(Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha}\n`))}"`,
          "Content-Length": "0",
        });
        res.end();
        return;
      }
      res.writeHead(200, {
        "X-Repo-Commit": r.commit,
        ETag: `"${gitBlobSha1(f.content)}"`,
        "Content-Length": String(f.content.length),
      });
      if (req.method === "HEAD") res.end();
      else this.sendBody(res, f.content, fault);
      return;
    }
    res.writeHead(404);
    res.end();
  }

  private describeFile(r: MockRepo, p: string): Record<string, unknown> {
    const f = r.files.get(p) as MockFile;
    return {
      type: "file",
      path: p,
      size: f.content.length,
      oid: gitBlobSha1(f.lfs ? Buffer.from(`lfs pointer ${sha256(f.content)}`) : f.content),
      ...(f.lfs ? { lfs: { oid: sha256(f.content), size: f.content.length, pointerSize: 134 } } : {}),
      lastCommit: { id: r.commit, title: "update", date: "2024-01-01T00:00:00.000Z" },
    };
  }

  private tree(res: ServerResponse, r: MockRepo, u: URL, base: string): void {
    const recursive = u.searchParams.get("recursive") === "true";
    const dirs = new Set<string>();
    const entries: Array<Record<string, unknown>> = [];
    for (const p of [...r.files.keys()].sort()) {
      const segs = p.split("/");
      for (let i = 1; i < segs.length; i++) dirs.add(segs.slice(0, i).join("/"));
      if (recursive || segs.length === 1) entries.push(this.describeFile(r, p));
    }
    for (const d of dirs) if (recursive || !d.includes("/")) entries.push({ type: "directory", path: d, oid: fakeCommit(d), size: 0 });
    const cursor = Number(u.searchParams.get("cursor") ?? "0");
    const page = entries.slice(cursor, cursor + this.pageSize);
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (cursor + this.pageSize < entries.length) {
      headers["Link"] = `<${this.url}/api/models/${base}?recursive=${recursive}&expand=false&cursor=${cursor + this.pageSize}>; rel="next"`;
    }
    res.writeHead(200, headers);
    res.end(JSON.stringify(page));
  }

  private serveBlob(req: IncomingMessage, res: ServerResponse, sha: string, fault: Fault | undefined): void {
    let content: Buffer | undefined;
    for (const r of this.repos.values()) for (const f of r.files.values()) if (f.lfs && sha256(f.content) === sha) content = f.content;
    if (content === undefined) {
      res.writeHead(404);
      res.end();
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    if (m !== null) {
      const start = Number(m[1]);
      if (start >= content.length) {
        res.writeHead(416, { "Content-Range": `bytes */${content.length}` });
        res.end();
        return;
      }
      res.writeHead(206, {
        "Content-Range": `bytes ${start}-${content.length - 1}/${content.length}`,
        "Content-Length": String(content.length - start),
        "Accept-Ranges": "bytes",
      });
      if (req.method === "HEAD") res.end();
      else this.sendBody(res, content.subarray(start), fault);
      return;
    }
    res.writeHead(200, { "Content-Length": String(content.length), "Accept-Ranges": "bytes" });
    if (req.method === "HEAD") res.end();
    else this.sendBody(res, content, fault);
  }

  private sendBody(res: ServerResponse, body: Buffer, fault: Fault | undefined): void {
    if (fault?.kind === "cut") {
      const half = Math.floor(body.length / 2);
      res.write(body.subarray(0, half), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    if (fault?.kind === "corrupt") {
      const bad = Buffer.from(body);
      bad[bad.length >> 1] = (bad[bad.length >> 1] ?? 0) ^ 0xff;
      res.end(bad);
      return;
    }
    res.end(body);
  }
}

/** Deterministic pseudo-random bytes. */
export function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** The Hub repositories BGE-M3 users point at, with small stand-in files. */
export function addBgeRepos(hub: MockHub): void {
  hub.addRepo("BAAI/bge-m3", {
    "onnx/model.onnx": bytes(900, 1),
    "onnx/model.onnx_data": bytes(300_000, 2),
    "onnx/Constant_7_attr__value": bytes(2048, 3),
    "onnx/config.json": "{}",
    "onnx/tokenizer.json": bytes(2000, 4),
    "sparse_linear.pt": bytes(5000, 5),
    "colbert_linear.pt": bytes(40_000, 6),
    "tokenizer.json": bytes(20_000, 7),
    "config.json": '{"model_type":"xlm-roberta"}',
    "pytorch_model.bin": bytes(100_000, 8),
    "README.md": "# BGE-M3",
    "1_Pooling/config.json": "{}",
  });
  hub.addRepo("Xenova/bge-m3", {
    "onnx/model.onnx": bytes(50_000, 11),
    "onnx/model_quantized.onnx": bytes(60_000, 12),
    "onnx/model_fp16.onnx": bytes(70_000, 13),
    "tokenizer.json": bytes(20_000, 7),
    "config.json": '{"model_type":"xlm-roberta","xenova":true}',
    "README.md": "# Xenova",
  });
  hub.addRepo("aapot/bge-m3-onnx", {
    "model.onnx": bytes(800, 21),
    "model.onnx.data": { content: bytes(120_000, 22), lfs: true },
    "Constant_7_attr__value": { content: bytes(100, 23), lfs: true },
    "tokenizer.json": bytes(20_000, 7),
    "config.json": "{}",
    "colbert_linear.pt": bytes(40_000, 6),
  });
  hub.addRepo("yuniko-software/bge-m3-onnx", {
    "bge_m3_model.onnx": bytes(700, 31),
    "bge_m3_model.onnx_data": bytes(110_000, 32),
    "tokenizer.json": bytes(20_000, 7),
    "README.md": "# yuniko",
  });
}
