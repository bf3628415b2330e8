// The retention clock in Postgres (real server, private schema): leaving starts it, a rejoin's
// claim clears it, a purge is fenced against a concurrent rejoin by the row lock, and only one
// pod at a time holds the retention lock.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { beginPurge, createAssignmentStore, dueForPurge, finishPurge, leftPastRetention, markLeft, withRetentionLock, type AssignmentStore } from '../../src/store/index.js';
import { testSchema, waitFor, type TestSchema } from '../helpers/services.js';

const RETENTION_MS = 50;
let s: TestSchema;
let store: AssignmentStore;

beforeEach(async () => {
  s = await testSchema();
  store = createAssignmentStore({ databaseUrl: s.url, schema: s.schema });
  await store.migrate();
});
afterEach(async () => {
  await store.close();
  await s.cleanup();
});

/** A guild claimed at epoch 1 with data, then left by its owner. */
async function leftGuild(g: string): Promise<void> {
  await store.commitEpoch(g, 'pod-a', 1, 'claim');
  await store.advanceDataEpoch(g, 1);
  await store.recordRelease(g, 'pod-a', 1, 'left', 'guild_delete');
}

const purgedAt = async (g: string) => (await sql<{ purged_at: Date | null }>`select purged_at from guild_assignments where guild_id = ${g}`.execute(store.db)).rows[0]?.purged_at ?? null;
const due = async (g: string) => (await dueForPurge(store.db, RETENTION_MS)).some((x) => x.guildId === g) || undefined;

describe('retention clock', () => {
  it('leaving starts the clock; the guild is due only after the retention; a purge stamps it once', async () => {
    await leftGuild('101');
    const row = await store.getAssignment('101');
    expect(row).toMatchObject({ state: 'left', owner: null, dataEpoch: 1 });
    expect(row?.leftAt).toBeInstanceOf(Date);
    expect(await dueForPurge(store.db, 60_000)).toEqual([]); // a long retention: not yet
    await waitFor('the short retention to pass', () => due('101'), 5000);
    expect([...(await leftPastRetention(store.db, ['101', '999'], RETENTION_MS))]).toEqual(['101']);

    const g = await beginPurge(store.db, '101', RETENTION_MS);
    expect(g).toMatchObject({ guildId: '101', epoch: 1, dataEpoch: 1 });
    expect((await store.getAssignment('101'))?.dataEpoch).toBeNull();
    await finishPurge(store.db, g!, { replicaEpochs: [1] });
    expect(await purgedAt('101')).toBeInstanceOf(Date);
    expect(await dueForPurge(store.db, RETENTION_MS)).toEqual([]);
    expect(await beginPurge(store.db, '101', RETENTION_MS)).toBeUndefined();
    const log = (await store.readLog({ guildId: '101' })).map((r) => r.kind);
    expect(log).toEqual(['claim', 'data_epoch', 'left', 'purged']);
  });

  it('a rejoin clears the clock: the guild is never due and a purge finds nothing', async () => {
    await leftGuild('102');
    await store.commitEpoch('102', 'pod-b', 2, 'claim'); // the bot was added back
    const row = await store.getAssignment('102');
    expect(row).toMatchObject({ state: 'active', leftAt: null, dataEpoch: 1 });
    await leftGuild('103'); // a guild that stays left, to know the retention has passed
    await waitFor('the retention to pass', () => due('103'), 5000);
    expect(await due('102')).toBeUndefined();
    expect(await beginPurge(store.db, '102', RETENTION_MS)).toBeUndefined();
    expect((await store.getAssignment('102'))?.dataEpoch).toBe(1);
  });

  it('a claim that commits after a purge began starts empty (no data_epoch to restore from a deleted path), and the purge is not stamped', async () => {
    await leftGuild('104');
    await waitFor('the retention to pass', () => due('104'), 5000);
    const g = await beginPurge(store.db, '104', RETENTION_MS);
    expect(g?.epoch).toBe(1);
    await store.commitEpoch('104', 'pod-b', 2, 'claim'); // the rejoin's claim, while paths ≤ 1 are being deleted
    expect(await store.getAssignment('104')).toMatchObject({ state: 'active', dataEpoch: null, epoch: 2, leftAt: null });
    await finishPurge(store.db, g!, { replicaEpochs: [1] });
    expect(await purgedAt('104')).toBeNull();
  });

  it('GUILD_DELETE for a guild nobody holds starts the clock once', async () => {
    await store.commitEpoch('105', 'pod-a', 1, 'claim');
    expect(await markLeft(store.db, '105')).toBe(true);
    const first = (await store.getAssignment('105'))?.leftAt;
    expect(await markLeft(store.db, '105')).toBe(false);
    expect((await store.getAssignment('105'))?.leftAt).toEqual(first);
    expect(await store.getAssignment('105')).toMatchObject({ state: 'left', owner: null });
  });

  it('only one pod at a time holds the retention lock', async () => {
    const other = createAssignmentStore({ databaseUrl: s.url, schema: s.schema });
    try {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let entered!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      const first = withRetentionLock(store.db, s.schema, async () => {
        entered();
        await gate;
        return 'first';
      });
      await inside;
      expect(await withRetentionLock(other.db, s.schema, async () => 'second')).toEqual({ ran: false });
      release();
      expect(await first).toEqual({ ran: true, value: 'first' });
      expect(await withRetentionLock(other.db, s.schema, async () => 'second')).toEqual({ ran: true, value: 'second' });
    } finally {
      await other.close();
    }
  });
});
