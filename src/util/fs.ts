/** File-system helpers shared by the stages. */
import { mkdir, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";

/**
 * `mkdir -p` in a bounded number of steps: finds the deepest existing ancestor, then creates each
 * missing folder below it once. Node's `mkdir(dir, { recursive: true })` never settles where
 * mkdir fails with ENOENT under an existing parent (e.g. anywhere under /proc): it retries the
 * parent forever. Here such a failure is thrown as the errno error it is.
 */
export async function makeDirs(dir: string): Promise<void> {
  const missing: string[] = [];
  let p = resolve(dir);
  for (;;) {
    const st = await stat(p).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
    if (st !== undefined) {
      if (!st.isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${p}'`), { code: "ENOTDIR", path: p });
      break;
    }
    missing.push(p);
    const parent = dirname(p);
    if (parent === p) break;
    p = parent;
  }
  for (const d of missing.reverse()) {
    await mkdir(d).catch(async (err: NodeJS.ErrnoException) => {
      // Created meanwhile by someone else: fine when it is a folder.
      if (err.code !== "EEXIST" || !(await stat(d)).isDirectory()) throw err;
    });
  }
}
