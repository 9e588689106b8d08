/** `GET /v1/models` (the OpenAI shape) and `GET /v1/info` (what a remote client checks: the model fingerprint). */
import type { Handler } from "./context.js";

export const models: Handler = async (_body, ctx) => ({
  object: "list",
  data: [{ id: ctx.options.modelName, object: "model", created: 0, owned_by: "langchain-m3" }],
});

export const info: Handler = async (_body, ctx) => {
  const fingerprint = await ctx.scheduler.encoder.fingerprint();
  const i = ctx.scheduler.encoder.info;
  return {
    model: ctx.options.modelName,
    fingerprint,
    max_length: i?.maxLength,
    search: ctx.store !== undefined,
    writable: ctx.options.writable && ctx.store !== undefined,
    limits: ctx.options.limits,
  };
};
