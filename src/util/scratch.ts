/**
 * Buffers an owner keeps between calls so that a hot path allocates nothing (growing and
 * zero-filling fresh buffers on every call cost more CPU than the work itself), lent to one user
 * at a time: `take()` hands them out, or returns undefined while another user holds them (that
 * caller then uses fresh buffers of its own); `release()` gives them back. The one scratch type
 * of the package: MaxSim's block buffers and the ColBERT store's read buffer.
 */
export class Scratch<T> {
  private busy = false;

  constructor(private readonly value: T) {}

  take(): T | undefined {
    if (this.busy) return undefined;
    this.busy = true;
    return this.value;
  }

  release(): void {
    this.busy = false;
  }
}
