/**
 * `m3 serve --model <dir|repo> [--index <dir> | --pg <url> --table t] [--host 127.0.0.1] [--port 8080]
 * [--api-key-file f] [--writable]`: BGE-M3 over HTTP (see createM3Server). Runs until SIGTERM or
 * Ctrl-C, then stops accepting, finishes the requests in flight and exits 0.
 */
import type { Command } from "commander";
import { readFileSync } from "node:fs";
import path from "node:path";
import { M3Encoder } from "../../encode/encoder.js";
import { resolvePretrained } from "../../hub/index.js";
import { createM3Server } from "../../serve/index.js";
import { existsSync } from "node:fs";
import { CliError, UsageError } from "../exit.js";
import { parseIntOption, parseProviders } from "../options.js";

interface ServeOpts {
  model?: string;
  index?: string;
  pg?: string;
  table?: string;
  host: string;
  port: string;
  apiKeyFile?: string;
  writable?: boolean;
  cors?: string;
  batching: boolean;
  queueTokens?: string;
  maxBodyBytes?: string;
  maxTexts?: string;
  requestTimeout?: string;
  provider?: string;
  variant?: string;
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("serve BGE-M3 over HTTP: OpenAI-compatible /v1/embeddings, /v1/encode, /v1/rerank, /v1/search")
    .option("-m, --model <dir>", "model folder or a Hugging Face repo id in the local cache (default: $M3_MODEL_DIR)")
    .option("--index <dir>", "an index folder to search (/v1/search)")
    .option("--pg <url>", "a Postgres collection to search instead: postgres://user:password@host:5432/db")
    .option("--table <name>", "with --pg: the collection (table) name (default: m3_documents)")
    .option("--host <addr>", "address to bind; anything but loopback needs --api-key-file", "127.0.0.1")
    .option("--port <n>", "port (0: any free port, printed at start)", "8080")
    .option("--api-key-file <file>", "file holding the API key clients send as Authorization: Bearer <key>")
    .option("--writable", "allow /v1/documents writes (needs --api-key-file)")
    .option("--cors <origin>", "send Access-Control-Allow-Origin for this origin (CORS is off by default)")
    .option("--no-batching", "encode each request on its own (no cross-request batching)")
    .option("--queue-tokens <n>", "tokens queued at most before 429 (default 262144)")
    .option("--max-body-bytes <n>", "largest request body (default 4194304)")
    .option("--max-texts <n>", "most texts per request (default 256)")
    .option("--request-timeout <ms>", "time limit of one request after its body (default 60000)")
    .option("--variant <v>", "fp32, int8 or fp16 (encoder-only layout)", "fp32")
    .option("--provider <list>", "onnxruntime execution providers in order of preference, e.g. cuda,cpu")
    .addHelpText(
      "after",
      `
Endpoints: POST /v1/embeddings /v1/encode /v1/rerank /v1/search /v1/documents /v1/documents/delete,
GET /v1/models /v1/info /health /ready /metrics. Errors are JSON { "error": { "code", "message" } }.

Examples:
  m3 serve --model ~/models/bge-m3 --index ./my-index
  m3 serve --model BAAI/bge-m3 --pg postgres://localhost/rag --host 0.0.0.0 --api-key-file ./key`,
    )
    .action(async (opts: ServeOpts) => {
      const model = opts.model ?? process.env["M3_MODEL_DIR"];
      if (model === undefined) throw new UsageError("give --model <dir> (or set M3_MODEL_DIR)");
      if (opts.index !== undefined && opts.pg !== undefined) throw new UsageError("give --index or --pg, not both");
      if (opts.table !== undefined && opts.pg === undefined) throw new UsageError("--table needs --pg");
      if (!["fp32", "int8", "fp16"].includes(opts.variant ?? "fp32")) throw new UsageError(`--variant must be fp32, int8 or fp16; got "${opts.variant}"`);
      let apiKey: string | undefined;
      if (opts.apiKeyFile !== undefined) {
        try {
          apiKey = readFileSync(opts.apiKeyFile, "utf8").trim();
        } catch (err) {
          throw new CliError(`cannot read --api-key-file ${opts.apiKeyFile}: ${(err as Error).message}`);
        }
      }
      let modelPath = path.resolve(model);
      const variant = (opts.variant ?? "fp32") as "fp32" | "int8" | "fp16";
      if (!existsSync(modelPath) && /^[\w.-]+\/[\w.-]+$/.test(model)) modelPath = (await resolvePretrained(model, { localFilesOnly: true, variant })).dir;
      const providers = parseProviders(opts.provider);
      const encoder = new M3Encoder({ modelPath, variant, ...(providers ? { executionProviders: providers } : {}) });
      const int = (name: string, raw: string | undefined, min: number, max: number): number | undefined =>
        raw === undefined ? undefined : parseIntOption(name, raw, min, max, 0);
      const server = await createM3Server({
        encoder,
        host: opts.host,
        port: parseIntOption("--port", opts.port, 0, 65535, 8080),
        apiKey,
        writable: opts.writable ?? false,
        corsOrigin: opts.cors,
        index: opts.index === undefined ? undefined : path.resolve(opts.index),
        postgres: opts.pg === undefined ? undefined : { connectionString: opts.pg, ...(opts.table ? { table: opts.table } : {}), create: opts.writable ?? false },
        batching: { enabled: opts.batching },
        limits: {
          queueTokens: int("--queue-tokens", opts.queueTokens, 8192, 1 << 30),
          maxBodyBytes: int("--max-body-bytes", opts.maxBodyBytes, 1024, 1 << 30),
          maxTexts: int("--max-texts", opts.maxTexts, 1, 1_000_000),
          requestTimeoutMs: int("--request-timeout", opts.requestTimeout, 1, 3_600_000),
        },
        logger: { warn: (m, d) => process.stderr.write(`${m} ${d ? JSON.stringify(d) : ""}\n`) },
      }).catch((err: unknown) => {
        void encoder.dispose();
        throw err;
      });
      const stop = new Promise<string>((resolve) => {
        process.once("SIGTERM", () => resolve("SIGTERM"));
        process.once("SIGINT", () => resolve("SIGINT"));
      });
      process.stderr.write(`m3 serve: listening on ${server.url}\n`);
      try {
        await Promise.race([server.ready(), stop]);
      } catch (err) {
        await server.close();
        await encoder.dispose();
        throw err;
      }
      process.stderr.write(`m3 serve: ready (${encoder.info?.layout}, ${opts.index ? `index ${opts.index}` : opts.pg ? `collection ${opts.table ?? "m3_documents"}` : "no search"})\n`);
      const signal = await stop;
      process.stderr.write(`m3 serve: ${signal}: finishing the requests in flight\n`);
      await server.close();
      await encoder.dispose();
      process.stderr.write("m3 serve: stopped\n");
    });
}
