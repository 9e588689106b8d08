/** The HTTP server stage: `createM3Server` and its options. */
export { createM3Server, M3Server } from "./server.js";
export { isLoopback } from "./options.js";
export type { M3ServerOptions, M3ServerLimits, M3ServerBatching } from "./options.js";
