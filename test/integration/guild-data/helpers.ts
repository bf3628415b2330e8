// Shared fixtures for the guild data tests: temp directories, fences the tests control, the
// real assignment store in a private schema, and a GuildData with test-speed Litestream settings.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FencedError } from '../../../src/cluster/errors.js';
import { createAssignmentStore, type AssignmentStore } from '../../../src/store/index.js';
import { createGuildData, type GuildData, type GuildDataOptions, type GuildFence } from '../../../src/guild-data/index.js';
import { testSchema, type TestSchema } from '../../helpers/services.js';

export interface TempDirs {
  readonly root: string;
  /** A fresh DATA_DIR under root (a "pod's volume"). */
  dataDir(name: string): string;
  readonly replicaRoot: string;
  readonly replicaUrl: string;
  cleanup(): void;
}

export function tempDirs(): TempDirs {
  const root = mkdtempSync(join(tmpdir(), 'lh-guild-data-'));
  const replicaRoot = join(root, 'replicas');
  return {
    root,
    dataDir: (name) => join(root, name),
    replicaRoot,
    replicaUrl: pathToFileURL(replicaRoot).href,
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

export interface TestFence extends GuildFence {
  /** The lease is gone: every later check fails. */
  revoke(): void;
  /** Move the local deadline (monotonic ms from now). */
  expireIn(ms: number): void;
}

/** A fence like the gateway's: valid until revoked or until its monotonic deadline passes. */
export function testFence(guildId: string, epoch: number): TestFence {
  let revoked = false;
  let deadline = Infinity;
  return {
    guildId,
    epoch,
    assertValid() {
      if (revoked) throw new FencedError(guildId, epoch, 'epoch');
      if (performance.now() >= deadline) throw new FencedError(guildId, epoch, 'deadline');
    },
    revoke() {
      revoked = true;
    },
    expireIn(ms: number) {
      deadline = performance.now() + ms;
    },
  };
}

export interface TestStore {
  readonly store: AssignmentStore;
  cleanup(): Promise<void>;
}

export async function testStore(): Promise<TestStore> {
  const s: TestSchema = await testSchema();
  const store = createAssignmentStore({ databaseUrl: s.url, schema: s.schema });
  await store.migrate();
  return {
    store,
    async cleanup() {
      await store.close();
      await s.cleanup();
    },
  };
}

/** A GuildData at test speed: 100 ms monitor interval, short debounce and backoff. */
export function testGuildData(opts: Pick<GuildDataOptions, 'dataDir' | 'replicaUrl' | 'store'> & Partial<GuildDataOptions>): GuildData {
  const gd = createGuildData({
    idleCloseMs: 60_000,
    ...opts,
    replication: {
      monitorIntervalMs: 100,
      restartDebounceMs: 20,
      maxDebounceMs: 200,
      backoff: { initialMs: 50, maxMs: 500 },
      emfileBackoff: { initialMs: 60_000, maxMs: 60_000 },
      ...opts.replication,
    },
  });
  gd.start();
  return gd;
}

let nextGuild = BigInt(Date.now()) << 22n;
/** A fresh snowflake-shaped guild id. */
export function newGuildId(): string {
  nextGuild += 1n << 12n;
  return String(nextGuild);
}
