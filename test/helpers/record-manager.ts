/** An in-memory record manager for LangChain's indexing API (none ships with @langchain/core). */
import { RecordManager, type ListKeyOptions, type UpdateOptions } from "@langchain/core/indexing";

interface Row {
  updatedAt: number;
  groupId: string | null;
}

export class InMemoryRecordManager extends RecordManager {
  lc_namespace = ["langchain_m3", "test", "record_manager"];
  private readonly rows = new Map<string, Row>();
  private clock = 1;

  async createSchema(): Promise<void> {}
  async getTime(): Promise<number> {
    return this.clock++;
  }
  async update(keys: string[], options?: UpdateOptions): Promise<void> {
    const t = Math.max(await this.getTime(), options?.timeAtLeast ?? 0);
    keys.forEach((k, i) => this.rows.set(k, { updatedAt: t, groupId: options?.groupIds?.[i] ?? null }));
  }
  async exists(keys: string[]): Promise<boolean[]> {
    return keys.map((k) => this.rows.has(k));
  }
  async listKeys(options?: ListKeyOptions): Promise<string[]> {
    const out: string[] = [];
    for (const [k, r] of this.rows) {
      if (options?.before !== undefined && !(r.updatedAt < options.before)) continue;
      if (options?.after !== undefined && !(r.updatedAt > options.after)) continue;
      if (options?.groupIds !== undefined && !options.groupIds.includes(r.groupId)) continue;
      out.push(k);
      if (options?.limit !== undefined && out.length >= options.limit) break;
    }
    return out;
  }
  async deleteKeys(keys: string[]): Promise<void> {
    for (const k of keys) this.rows.delete(k);
  }
}
