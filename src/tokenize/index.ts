/** The tokenizer stage: tokenizer.json via the official Rust implementation. */
export { M3Tokenizer, type SpecialIds } from "./tokenizer.js";
