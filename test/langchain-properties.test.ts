/** The LangChain vector-store properties (test/helpers/vectorstore-properties.ts) on the embedded index. */
import { M3VectorStore } from "../src/langchain/vectorstore.js";
import { FakeM3Encoder } from "./helpers/fake-encoder.js";
import { describeVectorStoreProperties } from "./helpers/vectorstore-properties.js";

const encoder = new FakeM3Encoder({ dim: 64 });

describeVectorStoreProperties("embedded index (lazy, LangChain-style constructor)", async () => new M3VectorStore(encoder, { colbert: { codec: "float32" } }));
describeVectorStoreProperties("embedded index (M3VectorStore.create, int8 ColBERT)", () => M3VectorStore.create(encoder));
