/**
 * src/util/serial.ts: the one serial queue (encoder session, index mutations, ColBERT store
 * writes, store writes through the backend) and its one failure rule. Every wait is an explicit
 * gate the test opens; no timers.
 */
import { describe, expect, it } from "vitest";
import { SerialQueue } from "../src/util/serial.js";

/** A promise the test settles by hand. */
function gate<T = void>(): { promise: Promise<T>; open: (v: T) => void; fail: (e: Error) => void } {
  let open!: (v: T) => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => ((open = res), (fail = rej)));
  return { promise, open, fail };
}

/** Lets every queued microtask and promise callback run. */
const settle = () => new Promise<void>((res) => setImmediate(res));

describe("SerialQueue", () => {
  it("runs one job at a time, in submission order", async () => {
    const q = new SerialQueue();
    const log: string[] = [];
    const gates = [gate(), gate(), gate()];
    const runs = gates.map((g, i) => q.run(async () => (log.push(`start ${i}`), await g.promise, log.push(`end ${i}`), i)));
    await settle();
    expect(log).toEqual(["start 0"]);
    gates[2]!.open(); // the last job's gate opening first changes nothing: it has not started
    await settle();
    expect(log).toEqual(["start 0"]);
    gates[0]!.open();
    await settle();
    expect(log).toEqual(["start 0", "end 0", "start 1"]);
    gates[1]!.open();
    expect(await Promise.all(runs)).toEqual([0, 1, 2]);
    expect(log).toEqual(["start 0", "end 0", "start 1", "end 1", "start 2", "end 2"]);
  });

  it("a failing job rejects its own caller only; the next job runs and idle() resolves", async () => {
    const q = new SerialQueue();
    const first = gate();
    const log: string[] = [];
    const a = q.run(async () => {
      await first.promise;
      log.push("a");
      throw new Error("a failed");
    });
    const b = q.run(() => {
      log.push("b");
      throw new Error("b threw synchronously");
    });
    const c = q.run(async () => (log.push("c"), "c"));
    const idle = q.idle();
    first.open();
    await expect(a).rejects.toThrow("a failed");
    await expect(b).rejects.toThrow("b threw synchronously");
    await expect(c).resolves.toBe("c");
    await expect(idle).resolves.toBeUndefined();
    expect(log).toEqual(["a", "b", "c"]);
  });

  it("idle() waits for the jobs queued before it, not for later ones", async () => {
    const q = new SerialQueue();
    const g1 = gate();
    const g2 = gate();
    q.run(() => g1.promise);
    const idle = q.idle();
    q.run(() => g2.promise);
    let idled = false;
    void idle.then(() => (idled = true));
    await settle();
    expect(idled).toBe(false);
    g1.open();
    await settle();
    expect(idled).toBe(true);
    g2.open();
    await q.idle();
  });

  it("runPrepared: prepare starts at once, apply waits its turn with what prepare gave", async () => {
    const q = new SerialQueue();
    const earlier = gate();
    const prepared = gate<string>();
    const log: string[] = [];
    void q.run(async () => (await earlier.promise, log.push("earlier done")));
    const r = q.runPrepared(
      () => (log.push("prepare started"), prepared.promise),
      (p) => (log.push(`apply ${p}`), p.length),
    );
    expect(log).toEqual(["prepare started"]); // synchronously, while the earlier job still waits
    prepared.open("ready");
    await settle();
    expect(log).toEqual(["prepare started"]); // prepared, but not applied before the earlier job
    earlier.open();
    await expect(r).resolves.toBe(5);
    expect(log).toEqual(["prepare started", "earlier done", "apply ready"]);
  });

  it("runPrepared: a failed prepare rejects its turn without apply, in order, and the queue goes on", async () => {
    const q = new SerialQueue();
    const earlier = gate();
    const prepared = gate<number>();
    const log: string[] = [];
    void q.run(async () => (await earlier.promise, log.push("earlier")));
    let applied = false;
    const r = q.runPrepared(() => prepared.promise, () => (applied = true));
    const rejected = r.catch((e: Error) => (log.push(`rejected: ${e.message}`), e));
    const later = q.run(() => log.push("later"));
    prepared.fail(new Error("encode failed"));
    await settle();
    expect(log).toEqual([]); // the failure waits for its turn, behind the earlier job
    earlier.open();
    await later;
    await rejected;
    expect(applied).toBe(false);
    expect(log).toEqual(["earlier", "rejected: encode failed", "later"]);
  });
});
