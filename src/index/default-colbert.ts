/** The ColBERT store factory used when the caller does not pass one: the package's store (src/index/colbert). */
import { createColbertStore, openColbertStore } from "./colbert/index.js";
import type { ColbertStoreFactory } from "./colbert/types.js";

export const defaultColbertFactory: ColbertStoreFactory = {
  async create(dim, options) {
    return createColbertStore({ ...options, dim });
  },
  open(dir, part, options) {
    return openColbertStore(dir, part, options); // reads only the open-time fields (codec and pooling come from `part`)
  },
};
