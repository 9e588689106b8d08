/**
 * `createM3Server`: BGE-M3 over HTTP on Node's `http` — OpenAI-compatible embeddings, all three
 * outputs, rerank, search over an index or a Postgres collection, health, readiness and
 * Prometheus metrics — with cross-request batching, a token-bounded queue, request limits and
 * timeouts, an API key, and a graceful close (stop accepting, finish what is in flight, release).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ErrorCodes, isM3Error, M3Error } from "../errors.js";
import { type M3HybridStore, openStore } from "../open.js";
import { ApiKeyCheck } from "./auth.js";
import { EncodeScheduler } from "./batcher.js";
import { parseJsonObject, readBody } from "./body.js";
import type { EndpointContext } from "./endpoints/context.js";
import { HttpError, pathOf, sendError, sendJson, sendText, type ResponseContext } from "./http.js";
import { ServerMetrics } from "./metrics.js";
import { resolveServerOptions, type M3ServerOptions, type ResolvedServerOptions } from "./options.js";
import { PATHS, ROUTES } from "./router.js";

export class M3Server {
  readonly options: ResolvedServerOptions;
  readonly metrics: ServerMetrics;
  private readonly scheduler: EncodeScheduler;
  private readonly http: Server;
  private readonly auth: ApiKeyCheck;
  private readonly respond: ResponseContext;
  private store: M3HybridStore | undefined;
  private readiness: Promise<void>;
  private isReady = false;
  private closing: Promise<void> | undefined;
  private inFlight = 0;
  private drained: (() => void) | undefined;
  private saveTail: Promise<unknown> = Promise.resolve();

  /** @internal use createM3Server */
  constructor(options: M3ServerOptions) {
    this.options = resolveServerOptions(options);
    const o = this.options;
    this.metrics = new ServerMetrics(() => ({ queueTokens: this.scheduler.queuedTokens, queueRequests: this.scheduler.queuedRequests, inFlight: this.inFlight, ready: this.isReady }));
    this.scheduler = new EncodeScheduler(o.encoder, o.limits, o.batching, this.metrics);
    this.auth = new ApiKeyCheck(o.apiKey);
    this.respond = { corsOrigin: o.corsOrigin, retryAfterSeconds: o.limits.retryAfterSeconds };
    this.http = createServer(
      { headersTimeout: o.limits.headersTimeoutMs, requestTimeout: o.limits.headersTimeoutMs + o.limits.bodyTimeoutMs, connectionsCheckingInterval: Math.max(50, Math.min(1000, o.limits.headersTimeoutMs / 2)) },
      (req, res) => void this.handle(req, res),
    );
    this.readiness = Promise.resolve();
  }

  /** Binds host:port and starts loading the model and opening the store (see `ready()`). */
  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(this.options.port, this.options.host, () => {
        this.http.off("error", reject);
        resolve();
      });
    });
    this.readiness = this.open();
    this.readiness.catch((err: unknown) => this.options.logger.warn?.("m3 serve: not ready", { error: String(err) }));
  }

  private async open(): Promise<void> {
    const o = this.options;
    await o.encoder.load();
    const enc = this.scheduler.asEncoderLike();
    if (o.index !== undefined) this.store = await openStore(enc, { ...o.store, directory: o.index });
    else if (o.postgres !== undefined) this.store = await openStore(enc, { ...o.store, postgres: o.postgres });
    else if (o.backend !== undefined) this.store = await openStore(enc, { ...o.store, backend: o.backend });
    this.isReady = true;
  }

  /** Resolves once the model is loaded and the store is open; rejects with the load's error. */
  ready(): Promise<void> {
    return this.readiness;
  }

  /** The bound port (useful with `port: 0`). */
  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  /** `http://host:port`. */
  get url(): string {
    const h = this.options.host.includes(":") ? `[${this.options.host}]` : this.options.host;
    return `http://${h}:${this.port}`;
  }

  /**
   * Graceful close: stops accepting connections, answers new requests on open connections with
   * 503, lets every request in flight finish, then closes the store and the connections. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => this.http.close(() => resolve()));
      this.http.closeIdleConnections();
      if (this.inFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
      await this.saveTail;
      await this.readiness.catch(() => undefined);
      await this.store?.close();
      this.http.closeAllConnections();
      await stopped;
    })();
    return this.closing;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    this.inFlight++;
    const path = pathOf(req);
    const route = ROUTES.get(`${req.method} ${path}`);
    const endpoint = PATHS.has(path) ? path : "other";
    const ac = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) ac.abort();
    });
    let status = 200;
    let timer: NodeJS.Timeout | undefined;
    try {
      if (this.closing !== undefined) {
        res.setHeader("connection", "close");
        throw new HttpError(503, ErrorCodes.OVERLOADED, "The server is shutting down; retry on another instance.");
      }
      if (req.method === "GET" && path === "/health") {
        sendJson(res, 200, { status: "ok" }, this.respond);
        return;
      }
      if (req.method === "GET" && path === "/ready") {
        if (!this.isReady) throw new HttpError(503, ErrorCodes.OVERLOADED, "The model is still loading (or failed to load; see the server log).");
        sendJson(res, 200, { status: "ready" }, this.respond);
        return;
      }
      if (req.method === "OPTIONS" && this.options.corsOrigin !== undefined && PATHS.has(path)) {
        res.writeHead(204, {
          "access-control-allow-origin": this.options.corsOrigin,
          "access-control-allow-methods": "GET, POST",
          "access-control-allow-headers": "authorization, content-type",
          "access-control-max-age": "600",
          vary: "Origin",
        });
        res.end();
        return;
      }
      if (req.method === "GET" && path === "/metrics") {
        this.auth.check(req);
        sendText(res, 200, this.metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
        return;
      }
      if (route === undefined) {
        if (PATHS.has(path)) throw new HttpError(405, ErrorCodes.INVALID_ARGUMENT, `${req.method} is not allowed on ${path}.`);
        throw new M3Error(ErrorCodes.NOT_FOUND, `No endpoint ${req.method} ${path.slice(0, 100)}; see /v1/embeddings, /v1/encode, /v1/rerank, /v1/search.`);
      }
      this.auth.check(req);
      if (!this.isReady) throw new HttpError(503, ErrorCodes.OVERLOADED, "The model is still loading; retry when /ready answers 200.");
      let body: Record<string, unknown> = {};
      if (route.body) {
        try {
          body = parseJsonObject(await readBody(req, this.options.limits), this.options.limits, req.headers["content-type"]);
        } catch (err) {
          res.setHeader("connection", "close"); // the rest of a refused body is not read
          throw err;
        }
      }
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new M3Error(ErrorCodes.TIMEOUT, `The request took longer than limits.requestTimeoutMs (${this.options.limits.requestTimeoutMs} ms); send fewer texts or retry later.`));
          ac.abort();
        }, this.options.limits.requestTimeoutMs);
      });
      timedOut.catch(() => undefined);
      const ctx: EndpointContext = { scheduler: this.scheduler, store: this.store, options: this.options, signal: ac.signal, authenticated: true, persist: () => this.persist() };
      const result = await Promise.race([route.handler(body, ctx), timedOut]);
      sendJson(res, 200, result, this.respond);
    } catch (err) {
      const r = sendError(res, err, this.respond);
      status = r.status;
      this.metrics.errors.inc({ code: r.code });
      if (!isM3Error(err)) this.options.logger.warn?.("m3 serve: request failed", { path, error: String(err) });
    } finally {
      clearTimeout(timer);
      this.metrics.requests.inc({ endpoint, status: String(status) });
      this.metrics.latency.observe((performance.now() - t0) / 1000, { endpoint });
      if (--this.inFlight === 0) this.drained?.();
    }
  }

  /** One save of an embedded index directory at a time, after each write. */
  private persist(): Promise<void> {
    const dir = this.options.index;
    const store = this.store;
    if (dir === undefined || store === undefined) return Promise.resolve();
    const run = this.saveTail.then(() => store.save(dir));
    this.saveTail = run.catch(() => undefined);
    return run;
  }
}

/**
 * Creates the server, binds it (127.0.0.1:8080 unless told otherwise) and starts loading the
 * model and opening the index or collection; `await server.ready()` for the end of that.
 */
export async function createM3Server(options: M3ServerOptions): Promise<M3Server> {
  const server = new M3Server(options);
  await server.listen();
  return server;
}
