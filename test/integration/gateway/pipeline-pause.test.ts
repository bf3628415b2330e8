// The event pipeline's pause (handoff, restore) against real guild databases: what arrives while a
// guild is paused is only buffered, and must be applied afterwards — by resume() when the pause
// led nowhere (an aborted handoff), or by goLive(…, replayFromMs) after a restore in place.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REST } from '@discordjs/rest';
import type { GatewayDispatchPayload } from 'discord-api-types/v10';
import { systemClock } from '../../../src/clock.js';
import { silentLogger } from '../../../src/log.js';
import { GuildDatabases } from '../../../src/guild-data/guild-databases.js';
import { EventPipeline } from '../../../src/gateway/pipeline.js';
import { ReplayBuffer } from '../../../src/gateway/replay-buffer.js';
import { HistoryLog } from '../../../src/gateway/history-log.js';
import type { PendingInteractions } from '../../../src/cluster/pending-interactions.js';

const GUILD = '100000000000000001';
let dir: string;
let dbs: GuildDatabases;
let history: HistoryLog;
let pipeline: EventPipeline;
let nextId = 200000000000000000n;
/** What the fence says (the tests flip it), and the guild@epoch the pipeline reported fenced. */
let holding = true;
let fenced: string[] = [];

const message = (): { payload: GatewayDispatchPayload; key: string } => {
  const id = String(nextId++);
  const d = { id, guild_id: GUILD, channel_id: '300000000000000001', author: { id: '400000000000000001', username: 'u' }, content: 'hi', timestamp: new Date().toISOString() };
  return { payload: { op: 0, t: 'MESSAGE_CREATE', s: 1, d } as unknown as GatewayDispatchPayload, key: `msg:${id}` };
};

async function keysIn(epoch: number): Promise<Set<string>> {
  const fence = pipeline.fence(GUILD, epoch);
  const rows = await dbs.read(fence, (db) => db.selectFrom('dedupe').select('key').execute());
  return new Set(rows.map((r) => r.key));
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lh-pipeline-'));
  dbs = new GuildDatabases({ dataDir: dir });
  history = new HistoryLog(join(dir, 'history.jsonl'));
  pipeline = new EventPipeline({
    podId: 'gw-test',
    dbs,
    history,
    buffer: new ReplayBuffer(systemClock, 60_000, 64 * 1024 * 1024),
    // Activity counting sends nothing; no REST call or pending interaction is made in these tests.
    rest: new REST({ api: 'http://127.0.0.1:9/api' }).setToken('unused'),
    pending: undefined as unknown as PendingInteractions,
    clock: systemClock,
    logger: silentLogger,
    holds: () => holding,
    onFenced: (g, e) => void fenced.push(`${g}@${e}`),
    onGuildLeft: () => undefined,
  });
  holding = true;
  fenced = [];
  await (await dbs.reserve(GUILD)).adopt(1);
  await pipeline.goLive(GUILD, 1);
});

afterEach(async () => {
  await dbs.stop();
  history.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a fenced write', () => {
  it('stops the guild and tells the ownership loop, so the lease is not kept held but unserved', async () => {
    const before = message();
    pipeline.onDispatch(before.payload);
    await pipeline.pause(GUILD);
    pipeline.resume(GUILD);
    holding = false; // the local deadline passed
    const refused = message();
    pipeline.onDispatch(refused.payload);
    await new Promise((r) => setTimeout(r, 50));
    expect(pipeline.isLive(GUILD)).toBe(false);
    expect(fenced).toEqual([`${GUILD}@1`]);
    holding = true;
    expect((await keysIn(1)).has(refused.key)).toBe(false);
    // Acquired again, the replay applies what the fence refused.
    await pipeline.goLive(GUILD, 1);
    expect((await keysIn(1)).has(refused.key)).toBe(true);
  });
});

describe('pausing a guild', () => {
  it('resume() after an aborted pause applies, in order, what arrived during it', async () => {
    const first = message();
    pipeline.onDispatch(first.payload);
    await pipeline.pause(GUILD);
    expect((await keysIn(1)).has(first.key)).toBe(true);
    const during = [message(), message(), message()];
    for (const m of during) pipeline.onDispatch(m.payload);
    expect([...(await keysIn(1))].filter((k) => during.some((m) => m.key === k))).toEqual([]);
    pipeline.resume(GUILD);
    const after = message();
    pipeline.onDispatch(after.payload);
    await pipeline.pause(GUILD); // waits for the queue to drain
    const keys = await keysIn(1);
    for (const m of [...during, after]) expect(keys.has(m.key)).toBe(true);
    // Applied once each, the paused ones before the later one.
    const order = readFileSync(join(dir, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { key: string; outcome: string })).filter((a) => a.outcome !== 'duplicate').map((a) => a.key);
    expect(order).toEqual([first.key, ...during.map((m) => m.key), after.key]);
  });

  it('goLive with replayFromMs replays only what arrived after the pause began', async () => {
    const before = message();
    pipeline.onDispatch(before.payload);
    const pausedAt = await pipeline.pause(GUILD);
    const during = [message(), message()];
    for (const m of during) pipeline.onDispatch(m.payload);
    // A restore in place: the file is replaced (here: a fresh one) and served at a new epoch.
    pipeline.stop(GUILD, 1);
    await dbs.close(GUILD, 'replaced');
    rmSync(join(dir, 'guilds', `${GUILD}.sqlite3`));
    await (await dbs.reserve(GUILD)).adopt(2);
    const { replayed } = await pipeline.goLive(GUILD, 2, { replayFromMs: pausedAt });
    expect(replayed).toBe(2);
    const keys = await keysIn(2);
    expect(keys.has(before.key)).toBe(false);
    for (const m of during) expect(keys.has(m.key)).toBe(true);
  });
});
