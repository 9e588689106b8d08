/**
 * The set-up every hub test file shares: a MockHub started before the file's tests and closed
 * after them; HF_HUB_OFFLINE / HF_TOKEN / HF_TOKEN_PATH stubbed so the user's environment and
 * saved token play no part; a temporary cache folder removed afterwards.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, vi } from "vitest";
import type { PretrainedOptions } from "../../src/hub/index.js";
import { MockHub, addBgeRepos } from "./mock-hub.js";

export interface MockHubEnvOptions {
  /** Name prefix of the temporary cache folder. */
  cachePrefix: string;
  /** Serve the repos of addBgeRepos. @default true */
  bgeRepos?: boolean;
  /** More repos or settings, before the hub starts. */
  setup?: (hub: MockHub) => void | Promise<void>;
  /**
   * "test": env stubs and a fresh cache per test, with the hub's log and faults cleared;
   * "file": env stubs and one cache for the whole file. @default "test"
   */
  scope?: "test" | "file";
}

export interface MockHubEnv {
  readonly hub: MockHub;
  /** The current cache folder (set once the hooks have run). */
  readonly cache: string;
  /** Options pointing resolvePretrained at the mock hub and the cache, retrying without delay. */
  opts(extra?: PretrainedOptions): PretrainedOptions;
}

function stubHubEnv(): void {
  vi.stubEnv("HF_HUB_OFFLINE", "");
  vi.stubEnv("HF_TOKEN", "");
  vi.stubEnv("HF_TOKEN_PATH", join(tmpdir(), "m3-no-saved-token"));
}

/** Registers the vitest hooks; call at the top level of a test file. */
export function useMockHub({ cachePrefix, bgeRepos = true, setup, scope = "test" }: MockHubEnvOptions): MockHubEnv {
  const hub = new MockHub();
  let cache = "";
  const makeCache = async (): Promise<void> => {
    cache = await mkdtemp(join(tmpdir(), cachePrefix));
  };
  const removeCache = (): Promise<void> => rm(cache, { recursive: true, force: true });

  if (scope === "file") {
    beforeAll(async () => {
      stubHubEnv();
      if (bgeRepos) addBgeRepos(hub);
      await setup?.(hub);
      await hub.start();
      await makeCache();
    });
    afterAll(async () => {
      vi.unstubAllEnvs();
      await hub.close();
      await removeCache();
    });
  } else {
    beforeAll(async () => {
      if (bgeRepos) addBgeRepos(hub);
      await setup?.(hub);
      await hub.start();
    });
    afterAll(() => hub.close());
    beforeEach(async () => {
      stubHubEnv();
      await makeCache();
      hub.log.length = 0;
      hub.faults = [];
      hub.rewriteHeaders = undefined;
      hub.pageSize = 1000;
    });
    afterEach(async () => {
      vi.unstubAllEnvs();
      await removeCache();
    });
  }

  return {
    hub,
    get cache() {
      return cache;
    },
    opts: (extra: PretrainedOptions = {}): PretrainedOptions => ({ endpoint: hub.url, cacheDir: cache, downloadRetryDelayMs: 5, ...extra }),
  };
}
