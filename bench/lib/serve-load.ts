/**
 * The load generator of bench/serve.ts, run as its own process (forked with IPC) so the
 * clients' JSON and HTTP work is not on the server's event loop — as with real app servers.
 * Closed loop: `concurrency` clients, each on its own keep-alive connection, send
 * POST /v1/embeddings (`texts` texts from the pool, base64) back to back until `seconds` have
 * passed, then finish the request they are in. Answers the parent with one LoadResult.
 */
import { Agent, request } from "node:http";

export interface LoadJob {
  url: string;
  concurrency: number;
  seconds: number;
  texts: number;
  pool: string[];
  /** Where in the pool to start (so successive levels send different texts). */
  offset: number;
}

export interface LoadResult {
  requests: number;
  tokens: number;
  errors: number;
  seconds: number;
  /** Latencies in ms, sorted. */
  latencies: number[];
  /** CPU time of this client process over the run, in seconds (user + system). */
  clientCpuSeconds: number;
}

function post(agent: Agent, url: URL, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: "/v1/embeddings", method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

export async function runLoad(job: LoadJob): Promise<LoadResult> {
  const url = new URL(job.url);
  const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency });
  const latencies: number[] = [];
  let tokens = 0;
  let errors = 0;
  let next = job.offset;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const stopAt = t0 + job.seconds * 1000;
  const client = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      const input = Array.from({ length: job.texts }, () => job.pool[next++ % job.pool.length]!);
      const t = performance.now();
      const r = await post(agent, url, JSON.stringify({ input, encoding_format: "base64" }));
      latencies.push(performance.now() - t);
      if (r.status !== 200) errors++;
      else tokens += (JSON.parse(r.text) as { usage: { prompt_tokens: number } }).usage.prompt_tokens;
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, client));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { requests: latencies.length, tokens, errors, seconds, latencies, clientCpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

if (process.send !== undefined) {
  process.on("message", (job: LoadJob) => {
    runLoad(job).then(
      (r) => process.send!(r),
      (err: unknown) => process.send!({ error: String(err) }),
    );
  });
}
