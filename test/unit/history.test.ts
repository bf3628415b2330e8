// The history checker on hand-made histories: a clean run passes, and each kind of broken
// promise is found and counted.
import { describe, expect, it } from 'vitest';
import { checkHistory, type HistoryInput } from '../../src/history/index.js';
import type { Application, DispatchRecord, EffectRecord, InteractionRecord, LeaseLogRow } from '../../src/history/check.js';

const G = '100000000000000001';
let seq = 0;
const dispatch = (key: string, at: number, guildId = G, type = 'MESSAGE_CREATE'): DispatchRecord => ({ seq: ++seq, at, shard: 0, type, guildId, key, sessions: ['s1', 's2'] });
const app = (key: string, pod: string, epoch: number, at: number, extra: Partial<Application> = {}): Application => ({ guild: G, key, pod, epoch, at, t: 'MESSAGE_CREATE', outcome: 'applied', effects: [], ...extra });
let logId = 0;
const commit = (epoch: number, owner: string, at: number, kind: 'claim' | 'handoff' = 'claim', guildId = G): LeaseLogRow => ({ id: ++logId, guildId, kind, owner, epoch, dataEpoch: null, at });
let effectN = 0;
const effect = (nonce: string, at: number, deduplicated = false, status = 200): EffectRecord => ({ n: ++effectN, at, method: 'POST', route: '/channels/:channel/messages', path: '/channels/1/messages', guildId: G, nonce, enforceNonce: true, deduplicated, status, userAgent: 'DiscordBot gw-1', body: {} });
const interaction = (id: string, over: Partial<InteractionRecord> = {}): InteractionRecord => ({
  n: Number(id.slice(-3)),
  id,
  guildId: G,
  channelId: '1',
  kind: 'command',
  name: 'stats',
  url: 'http://edge/interactions',
  sentAt: 1000,
  badSignature: false,
  status: 200,
  responseType: 4,
  latencyMs: 12,
  failed: false,
  pending: false,
  deferred: false,
  followedUp: false,
  followUpAt: null,
  error: null,
  ...over,
});

/** gw-1 owns the guild from t=100 at epoch 1; it is killed, gw-2 claims epoch 2 at t=5000. */
function cleanRun(): HistoryInput {
  return {
    dispatches: [dispatch('msg:1', 1000), dispatch('msg:1', 1000), dispatch('msg:2', 2000), dispatch('msg:3', 6000), dispatch('gdel:x', 7000, G, 'GUILD_CREATE')],
    applications: [
      app('msg:1', 'gw-1', 1, 1001, { effects: ['n1'] }),
      app('msg:2', 'gw-1', 1, 2001),
      // gw-1 died before msg:2 reached the replica: gw-2 restored and replayed it (allowed), and msg:1 was a duplicate.
      app('msg:1', 'gw-2', 2, 5100, { outcome: 'duplicate', effects: [] }),
      app('msg:2', 'gw-2', 2, 5101, { outcome: 'replayed' }),
      app('msg:3', 'gw-2', 2, 6001, { effects: ['n3'] }),
      app('int:900000000000000001', 'gw-2', 2, 6500, { t: 'INTERACTION_CREATE', effects: [] }),
    ],
    effects: [effect('n1', 1002), effect('n1', 5102, true), effect('n3', 6002)],
    interactions: [interaction('900000000000000001', { sentAt: 6499 }), interaction('900000000000000002', { badSignature: true, status: 401, sentAt: 6600 })],
    leaseLog: [commit(1, 'gw-1', 100), { id: ++logId, guildId: G, kind: 'data_epoch', owner: null, epoch: 1, dataEpoch: 1, at: 200 }, commit(2, 'gw-2', 5000)],
  };
}

describe('history checker', () => {
  it('passes a clean run, counting a replay across a restore and a resend the nonce absorbed', () => {
    const r = checkHistory(cleanRun());
    expect(r.violations).toBe(0);
    expect(r.events).toBe(3); // msg:1 sent to two sessions is one event; GUILD_CREATE is not applied
    expect(r.reappliedAfterRestore).toBe(1);
    expect(r.effects).toMatchObject({ expected: 2, sent: 2, resentDeduplicated: 1 });
    expect(r.interactions).toMatchObject({ sent: 2, forged: 1 });
  });

  it('finds an event never applied (a duplicate-only record does not count as applied)', () => {
    const h = cleanRun();
    const r = checkHistory({ ...h, dispatches: [...h.dispatches, dispatch('msg:4', 6100), dispatch('msg:5', 6200)], applications: [...h.applications, app('msg:5', 'gw-2', 2, 6201, { outcome: 'duplicate' })] });
    expect(r.lost.map((l) => l.key)).toEqual(['msg:4', 'msg:5']);
    expect(r.violations).toBe(2);
  });

  it('finds an event applied twice across a handoff, where the copy carried it', () => {
    const h = cleanRun();
    const r = checkHistory({
      ...h,
      dispatches: [...h.dispatches, dispatch('msg:6', 8000)],
      applications: [...h.applications, app('msg:6', 'gw-2', 2, 8001), app('msg:6', 'gw-3', 3, 9001, { outcome: 'replayed' })],
      leaseLog: [...(h.leaseLog ?? []), commit(3, 'gw-3', 9000, 'handoff')],
    });
    expect(r.appliedTwice).toEqual([{ guild: G, key: 'msg:6', applications: ['gw-2@2 applied', 'gw-3@3 replayed'] }]);
  });

  it('accepts an operator restore as the start of an epoch, after which a replay is expected', () => {
    const h = cleanRun();
    const r = checkHistory({
      ...h,
      dispatches: [...h.dispatches, dispatch('msg:13', 8000)],
      applications: [...h.applications, app('msg:13', 'gw-2', 2, 8001), app('msg:13', 'gw-2', 3, 9001, { outcome: 'replayed' })],
      leaseLog: [...(h.leaseLog ?? []), { ...commit(3, 'gw-2', 9000), kind: 'restore' }],
    });
    expect(r.violations).toBe(0);
    expect(r.reappliedAfterRestore).toBe(2);
  });

  it('finds an event applied twice under the same epoch, and any second application when no lease log was read', () => {
    const h = cleanRun();
    const same = checkHistory({ ...h, applications: [...h.applications, app('msg:3', 'gw-2', 2, 6050)] });
    expect(same.appliedTwice.map((x) => x.key)).toEqual(['msg:3']);
    const noLog = checkHistory({ ...h, leaseLog: undefined });
    expect(noLog.lineageChecked).toBe(false);
    expect(noLog.appliedTwice.map((x) => x.key)).toEqual(['msg:2']);
    expect(noLog.staleWrites).toEqual([]);
  });

  it('finds two pods applying for one guild in overlapping intervals', () => {
    const h = cleanRun();
    // gw-1 still applies at t=5200 under epoch 1 although gw-2 has been applying since 5100.
    const r = checkHistory({ ...h, dispatches: [...h.dispatches, dispatch('msg:7', 5150)], applications: [...h.applications, app('msg:7', 'gw-1', 1, 5200)] });
    expect(r.overlapping).toHaveLength(1);
    expect(r.overlapping[0]).toMatchObject({ guild: G, a: { pod: 'gw-1', epoch: 1, first: 1001, last: 5200 }, b: { pod: 'gw-2', epoch: 2, first: 5100 } });
    // ...which is also a write after epoch 2 was committed, and an epoch going backwards in time.
    expect(r.staleWrites.map((s) => s.reason)).toEqual(['applied 200 ms after epoch 2 (gw-2) was committed']);
    expect(r.epochRegressions.map((e) => e.source)).toEqual(['applications']);
  });

  it('finds writes under an epoch that was never committed, or before its commit, or by a pod it does not belong to', () => {
    const h = cleanRun();
    const r = checkHistory({
      ...h,
      dispatches: [...h.dispatches, dispatch('msg:8', 9000), dispatch('msg:9', 9100), dispatch('msg:10', 4000)],
      applications: [...h.applications, app('msg:8', 'gw-2', 7, 9001), app('msg:9', 'gw-3', 2, 9101), app('msg:10', 'gw-2', 2, 4001)],
    });
    expect(r.staleWrites.map((s) => `${s.key}: ${s.reason}`)).toEqual(['msg:8: epoch 7 was never committed to Postgres', 'msg:9: epoch 2 belongs to gw-2', 'msg:10: applied 999 ms before epoch 2 was committed']);
    // A slack for clocks on different machines forgives the early one only.
    expect(checkHistory({ ...h, applications: [...h.applications, app('msg:10', 'gw-2', 2, 4001)], dispatches: [...h.dispatches, dispatch('msg:10', 4000)] }, { clockSlackMs: 1000 }).staleWrites).toEqual([]);
  });

  it('finds epochs that went backwards in the assignment log and in data_epoch', () => {
    const h = cleanRun();
    const r = checkHistory({
      ...h,
      leaseLog: [
        ...(h.leaseLog ?? []),
        commit(2, 'gw-2', 5001), // the same owner committing its epoch again: an idempotent retry, fine
        commit(1, 'gw-3', 5500),
        { id: ++logId, guildId: G, kind: 'data_epoch', owner: null, epoch: 1, dataEpoch: 1, at: 5600 },
        { id: ++logId, guildId: G, kind: 'data_epoch', owner: null, epoch: 9, dataEpoch: 9, at: 5700 },
      ],
    });
    expect(r.epochRegressions.map((e) => `${e.source} ${e.epoch} after ${e.after}`)).toEqual(['assignment_log 1 after 2', 'data_epoch 1 after 1', 'data_epoch 9 after 1']);
  });

  it('finds side effects missing, sent twice, and sent for no application', () => {
    const h = cleanRun();
    const r = checkHistory({ ...h, effects: [effect('n1', 1002), effect('n1', 5102), effect('zz', 6000), effect('n3', 6002, false, 429)] });
    expect(r.effects.sentTwice).toEqual([{ nonce: 'n1', times: 2 }]);
    expect(r.effects.missing).toEqual([{ guild: G, nonce: 'n3', key: 'msg:3' }]); // a 429 is no post
    expect(r.effects.unexpected.map((u) => u.nonce)).toEqual(['zz']);
    expect(r.violations).toBe(3);
  });

  it('finds interactions that failed Discord, forged ones accepted and deferred ones never completed; pending ones are not judged', () => {
    const h = cleanRun();
    const r = checkHistory({
      ...h,
      interactions: [
        ...h.interactions,
        interaction('900000000000000003', { failed: true, status: 0, error: 'socket hang up' }),
        interaction('900000000000000004', { badSignature: true, status: 200, failed: true }),
        interaction('900000000000000005', { deferred: true, responseType: 5 }),
        interaction('900000000000000006', { deferred: true, responseType: 5, followedUp: true }),
        interaction('900000000000000007', { pending: true, status: 0 }),
      ],
    });
    expect(r.interactions.failed.map((i) => i.id)).toEqual(['900000000000000003']);
    expect(r.interactions.forgedAccepted).toEqual([{ id: '900000000000000004', status: 200 }]);
    expect(r.interactions.notCompleted.map((i) => i.id)).toEqual(['900000000000000005']);
    expect(r.interactions.pending).toBe(1);
    expect(r.violations).toBe(3);
  });

  it('judges only events and interactions inside a window, and violations stamped in it', () => {
    const h = cleanRun();
    const broken: HistoryInput = { ...h, dispatches: [...h.dispatches, dispatch('msg:11', 1500)], applications: [...h.applications, app('msg:12', 'gw-1', 1, 5200)] };
    expect(checkHistory(broken).violations).toBeGreaterThan(0);
    const later = checkHistory(broken, { window: { from: 5500, to: 10_000 } });
    expect(later.events).toBe(1); // msg:3 only
    expect(later.lost).toEqual([]);
    expect(later.overlapping).toEqual([]);
    expect(later.staleWrites).toEqual([]);
    expect(later.violations).toBe(0);
    const earlier = checkHistory(broken, { window: { from: 0, to: 5500 } });
    expect(earlier.lost.map((l) => l.key)).toEqual(['msg:11']);
    expect(earlier.staleWrites.map((s) => s.key)).toEqual(['msg:12']);
  });
});
