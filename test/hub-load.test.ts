/** End to end: fixture models served by the mock Hub, fetched into the cache, loaded through the symlinks. */
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { M3Encoder } from "../src/encode/encoder.js";
import { resolvePretrained } from "../src/hub/index.js";
import { M3Embeddings } from "../src/langchain/embeddings.js";
import { useMockHub } from "./helpers/hub-env.js";

const MODELS = join(import.meta.dirname, "fixtures/models");

async function filesOf(dir: string, keep: (p: string) => boolean): Promise<Record<string, Buffer>> {
  const out: Record<string, Buffer> = {};
  const walk = async (sub: string): Promise<void> => {
    for (const e of await readdir(join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(rel);
      else if (keep(rel)) out[rel] = await readFile(join(dir, rel));
    }
  };
  await walk("");
  return out;
}

const env = useMockHub({
  cachePrefix: "m3-hubload-",
  scope: "file",
  bgeRepos: false,
  setup: async (hub) => {
    const enc = join(MODELS, "encoder-only");
    hub.addRepo("BAAI/bge-m3", await filesOf(enc, (p) => !/model_(fp16|quantized)/.test(p)));
    hub.addRepo("Xenova/bge-m3", await filesOf(enc, (p) => !p.endsWith(".pt")));
    hub.addRepo("aapot/bge-m3-onnx", await filesOf(join(MODELS, "three-heads-aapot"), () => true));
    hub.addRepo("yuniko-software/bge-m3-onnx", await filesOf(join(MODELS, "three-heads-yuniko"), () => true));
  },
});
const { hub } = env;

const TEXTS = ["BGE-M3 runs locally.", "Der Teig geht auf, weil Hefe Gas bildet."];
const cases = [
  { repo: "BAAI/bge-m3", variant: "fp32", folder: "encoder-only" },
  { repo: "BAAI/bge-m3", variant: "int8", folder: "encoder-only" },
  { repo: "Xenova/bge-m3", variant: "fp16", folder: "encoder-only" },
  { repo: "aapot/bge-m3-onnx", variant: "fp32", folder: "three-heads-aapot" },
  { repo: "yuniko-software/bge-m3-onnx", variant: "fp32", folder: "three-heads-yuniko" },
] as const;

describe("fromPretrained loads what resolvePretrained put in the cache", () => {
  for (const c of cases) {
    it(`${c.repo} ${c.variant}: same outputs as the fixture folder`, async () => {
      const opts = { endpoint: hub.url, cacheDir: env.cache, variant: c.variant, intraOpNumThreads: 1 };
      const e = await M3Embeddings.fromPretrained(c.repo, opts);
      const direct = new M3Encoder({ modelPath: join(MODELS, c.folder), variant: c.variant, intraOpNumThreads: 1 });
      try {
        const [a, b] = await Promise.all([e.encode(TEXTS), direct.encode(TEXTS)]);
        for (let i = 0; i < TEXTS.length; i++) {
          expect(a[i]!.dense).toEqual(b[i]!.dense);
          expect(a[i]!.sparse).toEqual(b[i]!.sparse);
          expect(a[i]!.colbert).toEqual(b[i]!.colbert);
        }
        // the whole fingerprint (layout, sizes, tokenizer hash) of the folder the hub copy came from
        expect(await e.fingerprint()).toEqual(await direct.fingerprint());
      } finally {
        await e.encoder.dispose();
        await direct.dispose();
      }
      // a second resolution is served from the cache
      hub.log.length = 0;
      await resolvePretrained(c.repo, opts);
      expect(hub.log).toEqual([]);
    });
  }
});
