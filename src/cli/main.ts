/**
 * The `m3` command: index files, query an index, show what an index holds.
 * Exit codes: 0 ok, 1 runtime error, 2 usage error, 130 interrupted.
 */
import { Command, CommanderError } from "commander";
import { createRequire } from "node:module";
import { registerDownload } from "./commands/download.js";
import { registerFinetune } from "./commands/finetune.js";
import { registerIndex } from "./commands/index-cmd.js";
import { registerInfo } from "./commands/info.js";
import { registerQuantize } from "./commands/quantize.js";
import { registerQuery } from "./commands/query.js";
import { registerServe } from "./commands/serve.js";
import { ExitCode, exitCodeFor, formatError } from "./exit.js";

function packageVersion(): string {
  try {
    const req = createRequire(import.meta.url);
    return (req("../../package.json") as { version: string }).version;
  } catch {
    return "0.0.0";
  }
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("m3")
    .description("BGE-M3 hybrid search (dense + learned sparse + ColBERT) on your files, locally.")
    .version(packageVersion(), "-V, --version")
    .option("--verbose", "on errors, print the stack trace and causes")
    .exitOverride()
    .showHelpAfterError("(add --help for usage)")
    .addHelpText(
      "after",
      `
Exit codes: 0 ok, 1 runtime error, 2 usage error, 130 interrupted (Ctrl-C).
Environment: M3_MODEL_DIR  model folder used when --model is not given.
--model takes a folder, or a Hugging Face repo id (e.g. BAAI/bge-m3) already in the local
Hugging Face cache (see m3 download).

Example:
  m3 download BAAI/bge-m3
  m3 index data/sample-corpus/docs --model ~/models/bge-m3 --out ./my-index
  m3 query ./my-index "Why does bread dough rise?" -k 5
  m3 info ./my-index
Postgres + pgvector instead of a folder: --pg <url> [--table <name>] on index, query and info:
  m3 index data/sample-corpus/docs --model ~/models/bge-m3 --pg postgres://localhost/rag
  m3 query --pg postgres://localhost/rag "Why does bread dough rise?"
  m3 quantize ~/models/bge-m3        (int8 encoder for --variant int8)
  m3 serve --model ~/models/bge-m3 --index ./my-index   (HTTP: /v1/embeddings, /v1/encode, /v1/rerank, /v1/search)
  m3 finetune ~/models/bge-m3 --pairs train.jsonl --out ~/models/bge-m3-tuned   (retrain the heads)`,
    );
  registerIndex(program);
  registerQuery(program);
  registerInfo(program);
  registerDownload(program);
  registerQuantize(program);
  registerServe(program);
  registerFinetune(program);
  return program;
}

async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes("--verbose");
  const program = buildProgram();
  if (argv.length <= 2) {
    process.stderr.write(program.helpInformation());
    return ExitCode.USAGE;
  }
  try {
    await program.parseAsync(argv);
    return ExitCode.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed the message (or the help / version).
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.exitCode === 0) return ExitCode.OK;
      return ExitCode.USAGE;
    }
    process.stderr.write(formatError(err, verbose) + "\n");
    return exitCodeFor(err);
  }
}

// `m3 query … | head` closes stdout early: that is not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(ExitCode.OK);
  throw err;
});

const code = await main(process.argv);
// onnxruntime and hnswlib may keep native handles alive; leave once the output is flushed.
process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
