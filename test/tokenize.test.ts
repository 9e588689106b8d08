/**
 * Tokenizer: the golden ids (from the independent Python oracle) for every fixture root, and
 * our truncation (content ids cut to maxLength-2, wrapped in <s> … </s>) against the Rust
 * library's own truncation + post-processor, on every golden text and several lengths.
 */
import { join } from "node:path";
import { Tokenizer } from "tokenizers";
import { describe, expect, it, vi } from "vitest";

// Model loads and runs on a busy 2-core machine can exceed the 5 s default.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });
import { M3Tokenizer } from "../src/tokenize/tokenizer.js";
import { fixtureRoots, readGolden } from "./helpers/m3-golden.js";

for (const root of fixtureRoots()) {
  const path = join(root, "three-heads-yuniko", "tokenizer.json");
  const golden = readGolden(join(root, "../golden/tiny.json"));
  describe(`tokenizer ${root}`, () => {
    it("gives the golden ids for every case, one batch call", async () => {
      const tk = await M3Tokenizer.load(path);
      for (const ml of new Set(golden.cases.map((c) => c.maxLength))) {
        const cases = golden.cases.filter((c) => c.maxLength === ml);
        const ids = await tk.tokenize(cases.map((c) => c.text), ml);
        cases.forEach((c, i) => expect(Array.from(ids[i]!), c.name).toEqual(c.ids));
      }
    });

    it("truncates exactly like the library's truncation + <s> A </s> template", async () => {
      const tk = await M3Tokenizer.load(path);
      const ref = Tokenizer.fromFile(path);
      const texts = golden.cases.map((c) => c.text);
      for (const ml of [2, 3, 4, 7, 16, 100, 512]) {
        ref.setTruncation(ml);
        const want = await ref.encodeBatch(texts);
        const got = await tk.tokenize(texts, ml);
        texts.forEach((_, i) => expect(Array.from(got[i]!)).toEqual(want[i]!.getIds()));
      }
    });

    it("exposes specials, vocab size, idToToken and the file's sha256", async () => {
      const tk = await M3Tokenizer.load(path);
      expect(tk.special).toEqual({ cls: 0, sep: 2, pad: 1, unk: 3 });
      expect(tk.vocabSize).toBe(golden.vocab);
      expect(tk.idToToken(0)).toBe("<s>");
      expect(tk.idToToken(2)).toBe("</s>");
      const again = await M3Tokenizer.load(join(root, "encoder-only", "tokenizer.json"));
      expect(again.sha256).toBe(tk.sha256);
    });
  });
}
