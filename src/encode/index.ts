/** The M3 encoder stage: model folders -> onnxruntime -> dense / sparse / ColBERT outputs. */
export { M3Encoder } from "./encoder.js";
export type { EncoderInfo } from "./load.js";
export type { LayoutKind } from "./layout.js";
export { MAX_TOKENS, type M3EncoderOptions, type ModelVariant } from "./options.js";
export { loadStateDict, parseStateDict, type FloatTensor } from "./pt/state-dict.js";
export { PROVIDER_NAMES, type ExecutionProvider, type ProviderName, type CpuProvider, type DeviceProvider, type CoreMlProvider, type WebGpuProvider } from "./providers.js";
export { providerSupport, onnxruntimeVersion, type ProviderSupport } from "./provider-support.js";
export { quantizeModel, QUANTIZED_FILE, type QuantizeOptions, type QuantizeResult, type ScaleMode } from "./quantize.js";
