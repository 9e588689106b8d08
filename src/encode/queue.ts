/** Runs async jobs one at a time, in submission order (an onnxruntime session runs one batch at a time). */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Queues `job`; resolves or rejects with its result. A failing job does not block the next. */
  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job, job);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every job queued so far has settled. */
  async idle(): Promise<void> {
    await this.tail;
  }
}
