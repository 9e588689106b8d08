/** The ColBERT store factory used when the caller does not pass one. */
import { ErrorCodes, M3Error } from "../errors.js";
import type { ColbertStoreFactory } from "./colbert/types.js";

export const defaultColbertFactory: ColbertStoreFactory = {
  create() {
    return Promise.reject(new M3Error(ErrorCodes.INVALID_ARGUMENT, "No ColBERT store is built in yet; pass options.colbertFactory."));
  },
  open() {
    return Promise.reject(new M3Error(ErrorCodes.INVALID_ARGUMENT, "No ColBERT store is built in yet; pass options.colbertFactory."));
  },
};
