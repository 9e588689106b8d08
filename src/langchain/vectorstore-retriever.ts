/**
 * `M3VectorStoreRetriever`: what `M3VectorStore.asRetriever()` returns — LangChain's
 * `VectorStoreRetriever` (same fields: k, filter, searchType "similarity" | "mmr",
 * searchKwargs { fetchK, lambda }) that also honours `RunnableConfig.signal` and `timeout`:
 * the vector store's searches run with that signal and stop with ABORTED.
 */
import type { DocumentInterface } from "@langchain/core/documents";
import type { RunnableConfig } from "@langchain/core/runnables";
import { VectorStoreRetriever, type VectorStoreInterface, type VectorStoreRetrieverInput } from "@langchain/core/vectorstores";
import { configSignal, raceSignal, withSignal } from "./signal.js";

/** Generic over the store so that this module does not import `M3VectorStore` (which imports it). */
export class M3VectorStoreRetriever<V extends VectorStoreInterface = VectorStoreInterface> extends VectorStoreRetriever<V> {
  static override lc_name(): string {
    return "M3VectorStoreRetriever";
  }

  constructor(fields: VectorStoreRetrieverInput<V>) {
    super(fields);
  }

  /** As `VectorStoreRetriever.invoke`, and `options.signal` / `options.timeout` stop the search (ABORTED). */
  override async invoke(input: string, options?: RunnableConfig): Promise<DocumentInterface[]> {
    const signal = configSignal(options);
    if (signal === undefined) return super.invoke(input, options);
    return raceSignal(
      withSignal(signal, () => super.invoke(input, options)),
      signal,
      "M3VectorStoreRetriever.invoke",
    );
  }
}
