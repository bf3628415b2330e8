// A replica whose latest state cannot be restored (here: its newest WAL index is damaged, so the
// real litestream binary fails on it) is restored from the newest earlier WAL index — only when
// the claimer's replay buffer reaches back past that index's last write, so the replay applies
// whatever the fallback misses. Otherwise the claim fails loudly, as before.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { metrics } from '../../../src/metrics.js';
import { activityStats, countMessage, RestoreError, type GuildData } from '../../../src/guild-data/index.js';
import { waitFor } from '../../helpers/services.js';
import { newGuildId, tempDirs, testFence, testGuildData, testStore, type TempDirs, type TestStore } from './helpers.js';

let dirs: TempDirs;
let ts: TestStore;
let running: GuildData[];
let template: string;

beforeEach(async () => {
  dirs = tempDirs();
  ts = await testStore();
  running = [];
  // Litestream checkpoints (and starts a new WAL index) every few pages here, so a short run has several.
  template = join(dirs.root, 'litestream.yml');
  const base = readFileSync(new URL('../../../litestream.yml', import.meta.url), 'utf8');
  writeFileSync(template, base.replace('    monitor-interval: {{monitor_interval}}\n', '    monitor-interval: {{monitor_interval}}\n    min-checkpoint-page-count: 4\n'));
});

afterEach(async () => {
  await Promise.all(running.map((gd) => gd.stop()));
  await ts.cleanup();
  dirs.cleanup();
});

function pod(name: string, replayCoversSince?: () => number): GuildData {
  const gd = testGuildData({ dataDir: dirs.dataDir(name), replicaUrl: dirs.replicaUrl, store: ts.store, replayCoversSince, replication: { templatePath: template } });
  running.push(gd);
  return gd;
}

const counter = async () => (await metrics.restoreFallbacks.get()).values.reduce((s, v) => s + v.value, 0);

/** WAL files of the guild's epoch-1 replica, by index. */
function walIndexes(guildId: string): Map<number, string[]> {
  const gens = join(dirs.replicaRoot, 'guilds', guildId, '1', 'generations');
  const out = new Map<number, string[]>();
  for (const gen of readdirSync(gens)) {
    const dir = join(gens, gen, 'wal');
    for (const f of readdirSync(dir)) {
      if (!f.endsWith('.wal.lz4')) continue;
      const index = parseInt(f.slice(0, 8), 16);
      out.set(index, [...(out.get(index) ?? []), join(dir, f)]);
    }
  }
  return out;
}

/** Owner at epoch 1 writes in bursts until the replica holds several WAL indexes, then dies. */
async function replicaWithDamagedNewestIndex(): Promise<{ guildId: string; written: number; newest: number }> {
  const g = newGuildId();
  const a = pod('pod-a');
  await ts.store.commitEpoch(g, 'pod-a', 1, 'claim');
  await a.restoreGuild(g, 1);
  const fence = testFence(g, 1);
  let written = 0;
  await waitFor('three WAL indexes in the replica', async () => {
    for (let i = 0; i < 20; i++, written++) await a.dbs.applyOnce(fence, `msg:${written}`, (trx) => countMessage(trx, { channelId: `c${written % 5}`, userId: `u${written}`, day: '2026-01-01' }));
    await waitFor('replicated', () => a.replication.isReplicated(g), 10_000);
    try {
      return walIndexes(g).size >= 3 || undefined;
    } catch {
      return undefined;
    }
  }, 30_000, 10);
  await waitFor('data_epoch 1', async () => (await ts.store.getAssignment(g))?.dataEpoch === 1, 15_000);
  process.kill(a.replication.pidOf(g) as number, 'SIGKILL');
  // Damage every segment of the newest index: litestream cannot decode it.
  const byIndex = walIndexes(g);
  const newest = Math.max(...byIndex.keys());
  for (const f of byIndex.get(newest) ?? []) writeFileSync(f, Buffer.from('not an lz4 frame at all'));
  return { guildId: g, written, newest };
}

describe('restore when the latest replica state is unreadable', () => {
  it('falls back to the newest earlier WAL index when the replay buffer covers everything after it', async () => {
    const { guildId, written, newest } = await replicaWithDamagedNewestIndex();
    const before = await counter();
    const b = pod('pod-b', () => Date.now() - 10 * 60_000);
    await ts.store.commitEpoch(guildId, 'pod-b', 2, 'claim');
    const r = await b.restoreGuild(guildId, 2);
    expect(r.source).toBe('replica');
    expect(r.fellBackTo?.index).toBe(newest - 1);
    // Everything up to that index (what the damaged one added, if anything, the replay re-applies).
    const total = await b.dbs.read(testFence(guildId, 2), async (db) => (await activityStats(db)).total);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(written);
    expect(await b.dbs.read(testFence(guildId, 2), async (db) => (await db.selectFrom('meta').select('value').where('key', '=', 'guild_id').executeTakeFirst())?.value)).toBe(guildId);
    expect(await counter()).toBe(before + 1);
  });

  it('fails the claim loudly when the replay buffer does not reach back that far', async () => {
    const { guildId } = await replicaWithDamagedNewestIndex();
    const b = pod('pod-b', () => Date.now());
    await ts.store.commitEpoch(guildId, 'pod-b', 2, 'claim');
    const err = await b.restoreGuild(guildId, 2).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RestoreError);
    expect((err as RestoreError).reason).toBe('litestream');
    // Without a replay buffer at all (a plain restore), there is no fallback either.
    const c = pod('pod-c');
    await ts.store.commitEpoch(guildId, 'pod-c', 3, 'claim');
    await expect(c.restoreGuild(guildId, 3)).rejects.toBeInstanceOf(RestoreError);
  });
});
