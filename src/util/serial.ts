/**
 * One serial queue for every place that must run async work one job at a time in submission
 * order: the encoder's onnxruntime session, an index's mutations and saves, a ColBERT store's
 * writes, a store's writes through the backend.
 *
 * The failure rule, the same everywhere: a job that throws or rejects rejects the promise its
 * caller got, and nothing else — the next job runs as if it had succeeded, and `idle()` resolves.
 * A queue is never poisoned; whoever needs "stop after a failure" checks for it in the next job.
 */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();

  /** Queues `job` after every job queued before it; settles as the job does. */
  run<T>(job: () => T | Promise<T>): Promise<T> {
    const result = this.tail.then(job);
    this.tail = result.then(ignore, ignore);
    return result;
  }

  /**
   * Starts `prepare` now, alongside the jobs ahead in the queue, and queues `apply` with what it
   * gave. When `prepare` fails its turn rejects with that error and `apply` is not called; the
   * queue goes on. (A store encodes documents while earlier writes are still being stored.)
   */
  runPrepared<P, T>(prepare: () => Promise<P>, apply: (prepared: P) => T | Promise<T>): Promise<T> {
    const prepared = prepare();
    prepared.catch(ignore); // rejected through the job below; not "unhandled" while it waits its turn
    return this.run(async () => apply(await prepared));
  }

  /** Resolves once every job queued so far has settled (failed ones included). */
  idle(): Promise<void> {
    return this.tail;
  }
}

function ignore(): void {}
