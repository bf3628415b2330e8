import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAssignmentStore, type AssignmentStore } from '../../src/store/index.js';
import { StaleEpochError } from '../../src/cluster/errors.js';
import { testSchema, waitFor, type TestSchema } from '../helpers/services.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';

const G = '123456789012345678';
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

describe('assignment store', () => {
  it('migrations are idempotent and run once when two pods start together', async () => {
    const other = createAssignmentStore({ databaseUrl: s.url, schema: s.schema });
    await Promise.all([store.migrate(), other.migrate()]);
    await other.close();
  });

  it('four pods starting at once on a schema that does not exist yet all migrate', async () => {
    const schema = `${s.schema}_fresh`;
    const stores = Array.from({ length: 4 }, () => createAssignmentStore({ databaseUrl: s.url, schema }));
    try {
      const results = await Promise.allSettled(stores.map((x) => x.migrate()));
      expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
      await stores[0]!.commitEpoch(G, 'pod-a', 1, 'claim');
    } finally {
      await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(stores[0]!.db);
      await Promise.all(stores.map((x) => x.close()));
    }
  });

  it('commits an epoch only above the stored one; an older epoch changes nothing', async () => {
    await store.commitEpoch(G, 'pod-a', 5, 'claim');
    const err = await store.commitEpoch(G, 'pod-b', 4, 'claim').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StaleEpochError);
    expect(err).toMatchObject({ attempted: 4, current: 5 });
    await expect(store.commitEpoch(G, 'pod-b', 5, 'claim')).rejects.toBeInstanceOf(StaleEpochError);
    // The same owner committing the same epoch again (a retry) is not an error, and not a second log entry.
    await store.commitEpoch(G, 'pod-a', 5, 'claim');
    expect(await store.getAssignment(G)).toMatchObject({ owner: 'pod-a', epoch: 5, state: 'active' });
    await store.commitEpoch(G, 'pod-b', 6, 'handoff', 'pod-a');
    expect(await store.getAssignment(G)).toMatchObject({ owner: 'pod-b', epoch: 6 });
    const log = await store.readLog({ guildId: G });
    expect(log.map((l) => `${l.kind}:${l.owner}:${l.epoch}:${l.from ?? ''}`)).toEqual(['claim:pod-a:5:', 'handoff:pod-b:6:pod-a']);
    expect((await store.floors([G, '999999999999999999'])).get(G)).toBe(6);
  });

  it('data_epoch only moves up, and never past the committed epoch', async () => {
    await store.commitEpoch(G, 'pod-a', 3, 'claim');
    expect(await store.advanceDataEpoch(G, 4)).toBe(false);
    expect(await store.advanceDataEpoch(G, 3)).toBe(true);
    expect(await store.advanceDataEpoch(G, 2)).toBe(false);
    expect((await store.getAssignment(G))?.dataEpoch).toBe(3);
  });

  it("a release by a stale epoch does not clobber the new owner's row", async () => {
    await store.commitEpoch(G, 'pod-a', 1, 'claim');
    await store.commitEpoch(G, 'pod-b', 2, 'handoff', 'pod-a');
    await store.recordRelease(G, 'pod-a', 1, 'released', 'lost');
    expect(await store.getAssignment(G)).toMatchObject({ owner: 'pod-b', epoch: 2, state: 'active' });
    await store.recordRelease(G, 'pod-b', 2, 'left', 'guild_delete');
    expect(await store.getAssignment(G)).toMatchObject({ owner: null, epoch: 2, state: 'left' });
  });

  it('keeps durable copies of pins and cordons', async () => {
    await store.setPin(G, 'pod-a');
    await store.setCordon('pod-b', 'drain');
    expect([...(await store.listPins())]).toEqual([[G, 'pod-a']]);
    expect([...(await store.listCordons())]).toEqual([['pod-b', 'drain']]);
    await store.setPin(G, null);
    await store.setCordon('pod-b', null);
    expect((await store.listPins()).size).toBe(0);
    expect((await store.listCordons()).size).toBe(0);
  });
});

describe('while Postgres is unreachable', () => {
  let proxy: FaultProxy;
  let viaProxy: AssignmentStore;

  beforeEach(async () => {
    const u = new URL(s.url);
    proxy = await startFaultProxy({ host: u.hostname, port: Number(u.port || 5432) });
    u.host = `127.0.0.1:${proxy.port}`;
    viaProxy = createAssignmentStore({ databaseUrl: u.toString(), schema: s.schema });
  });
  afterEach(async () => {
    proxy.restore();
    await viaProxy.close();
    await proxy.close();
  });

  it('queued writes wait and are written in order when it returns; nothing is dropped', async () => {
    await viaProxy.commitEpoch(G, 'pod-a', 1, 'claim');
    proxy.cut();
    // A claim must wait (fail) while Postgres is away...
    await expect(viaProxy.commitEpoch(G, 'pod-a', 2, 'claim')).rejects.toThrow();
    // ...but lagging writes are queued and never block the caller.
    for (let i = 0; i < 5; i++) viaProxy.queue.enqueue(`log ${i}`, () => viaProxy.appendLog({ guildId: G, kind: 'note', detail: { i } }));
    viaProxy.queue.enqueue('data epoch', () => viaProxy.advanceDataEpoch(G, 1));
    await waitFor('a retry to fail', () => viaProxy.queue.depth === 6 || undefined);
    proxy.restore();
    await viaProxy.queue.idle();
    const notes = (await store.readLog({ guildId: G })).filter((l) => l.kind === 'note').map((l) => (l.detail as { i: number }).i);
    expect(notes).toEqual([0, 1, 2, 3, 4]);
    expect((await store.getAssignment(G))?.dataEpoch).toBe(1);
  });
});
