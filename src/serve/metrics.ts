/**
 * The server's metrics and their Prometheus text exposition (format 0.0.4): counters by label,
 * gauges read at scrape time, and histograms with fixed buckets.
 */

type Labels = Record<string, string>;

function key(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]!.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`)
    .join(",");
}

class Counter {
  readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(key(labels)) ?? 0;
  }
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    if (this.values.size === 0) out.push(`${this.name} 0`);
    for (const [k, v] of this.values) out.push(`${this.name}${k ? `{${k}}` : ""} ${v}`);
  }
}

class Histogram {
  private readonly series = new Map<string, { counts: Float64Array; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}
  observe(v: number, labels: Labels = {}): void {
    const k = key(labels);
    let s = this.series.get(k);
    if (s === undefined) this.series.set(k, (s = { counts: new Float64Array(this.buckets.length), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) s.counts[i]!++;
    s.sum += v;
    s.count++;
  }
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    for (const [k, s] of this.series) {
      const pre = k ? `${k},` : "";
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket{${pre}le="${b}"} ${s.counts[i]}`));
      out.push(`${this.name}_bucket{${pre}le="+Inf"} ${s.count}`, `${this.name}_sum${k ? `{${k}}` : ""} ${s.sum}`, `${this.name}_count${k ? `{${k}}` : ""} ${s.count}`);
    }
  }
}

/** Every metric the server exports; names are listed in the README. */
export class ServerMetrics {
  readonly requests = new Counter("m3_requests_total", "HTTP requests answered, by endpoint and status.");
  readonly errors = new Counter("m3_errors_total", "Error responses by error code.");
  readonly encodedTexts = new Counter("m3_encoded_texts_total", "Texts encoded.");
  readonly encodedTokens = new Counter("m3_encoded_tokens_total", "Tokens encoded (rate() gives tokens/s).");
  readonly cancelled = new Counter("m3_cancelled_texts_total", "Queued texts dropped because their client went away or timed out.");
  readonly batchTexts = new Histogram("m3_batch_texts", "Texts per encoder call (after cross-request merging).", [1, 2, 4, 8, 16, 32, 64, 128, 256]);
  readonly batchTokens = new Histogram("m3_batch_tokens", "Tokens per encoder call.", [64, 256, 1024, 4096, 16384, 65536]);
  readonly latency = new Histogram("m3_request_duration_seconds", "Time from request to response, by endpoint.", [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  private readonly started = Date.now();

  constructor(private readonly gauges: () => { queueTokens: number; queueRequests: number; inFlight: number; ready: boolean }) {}

  render(): string {
    const out: string[] = [];
    for (const c of [this.requests, this.errors, this.encodedTexts, this.encodedTokens, this.cancelled]) c.render(out);
    for (const h of [this.batchTexts, this.batchTokens, this.latency]) h.render(out);
    const g = this.gauges();
    const gauge = (name: string, help: string, v: number): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${v}`);
    };
    gauge("m3_queue_tokens", "Tokens admitted and not yet encoded.", g.queueTokens);
    gauge("m3_queue_requests", "Encoding requests admitted and not yet answered.", g.queueRequests);
    gauge("m3_http_in_flight", "HTTP requests being answered.", g.inFlight);
    gauge("m3_ready", "1 once the model is loaded.", g.ready ? 1 : 0);
    gauge("m3_uptime_seconds", "Seconds since the server was created.", (Date.now() - this.started) / 1000);
    return out.join("\n") + "\n";
  }
}
