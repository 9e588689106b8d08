/** Fine-tuning the BGE-M3 heads (sparse_linear, colbert_linear) on a frozen encoder. */
export { finetuneHeads, type FinetuneResult } from "./train.js";
export { FINETUNE_DEFAULTS, type FinetuneOptions, type FinetuneProgress, type FinetuneEpoch, type EpochStats } from "./options.js";
export type { TrainingPair } from "./pairs.js";
export type { PerMode } from "./loss.js";
