// The control API over HTTP (what the demo and chaos tests use), gateway faults on request, the
// traffic generator's determinism and spread, and Discord's answer to a spent daily identify total.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Events, type Client } from 'discord.js';
import { GatewayCloseCodes, GatewayOpcodes } from 'discord-api-types/v10';
import { startSim, type Sim } from '../../../src/sim/index.js';
import { RawGateway, readyClient, waitUntil } from './helpers.js';

const post = async (url: string, body: unknown, method = 'POST') => {
  const r = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

describe('the stand-in control API', () => {
  let sim: Sim | undefined;
  const clients: Client[] = [];
  const sockets: RawGateway[] = [];
  const servers: Server[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.destroy();
    for (const s of sockets.splice(0)) s.close();
    await sim?.close();
    sim = undefined;
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  });

  it('creates and removes guilds, channels and members, dispatching them to the shard that holds them', async () => {
    sim = await startSim({ guilds: 1, identifyWindowMs: 0 });
    const g = new RawGateway(sim.gatewayUrl);
    sockets.push(g);
    await g.opened;
    g.identify('tok', [0, 1], 1 | 2 | 512);
    await waitUntil('READY', () => g.dispatches('GUILD_CREATE').length === 1);
    const created = await post(`${sim.controlUrl}/guilds`, { count: 3 });
    expect(created.status).toBe(201);
    const ids = (created.body['guilds'] as { id: string }[]).map((x) => x.id);
    await waitUntil('three GUILD_CREATEs', () => g.dispatches('GUILD_CREATE').length === 4);
    expect(g.dispatches('GUILD_CREATE').slice(1).map((p) => (p.d as { id: string }).id)).toEqual(ids);
    const named = await post(`${sim.controlUrl}/guilds`, { name: 'Named guild', members: 2 });
    expect(named.body['guilds']).toMatchObject([{ name: 'Named guild', memberIds: [expect.any(String), expect.any(String)] }]);
    const id = ids[0] as string;
    expect((await post(`${sim.controlUrl}/guilds/${id}/channels`, { name: 'reports' })).body).toMatchObject({ guildId: id, name: 'reports' });
    expect((await post(`${sim.controlUrl}/guilds/${id}/members`, {})).body).toMatchObject({ guildId: id });
    const removed = await post(`${sim.controlUrl}/guilds/${id}`, undefined, 'DELETE');
    expect(removed.body).toMatchObject({ guild: { id, removed: true } });
    await waitUntil('the rest', () => g.dispatches('GUILD_DELETE').length === 1 && g.dispatches('GUILD_MEMBER_ADD').length === 1 && g.dispatches('CHANNEL_CREATE').length === 1);
    expect((await post(`${sim.controlUrl}/guilds/${id}`, undefined, 'DELETE')).status).toBe(409);
    expect((await post(`${sim.controlUrl}/messages`, { guildId: id, content: 'x' })).status).toBe(409);
    expect((await post(`${sim.controlUrl}/guilds`, { count: 0 })).status).toBe(400);
    expect((await post(`${sim.controlUrl}/nowhere`, {})).status).toBe(404);
    const state = (await (await fetch(`${sim.controlUrl}/state`)).json()) as { guilds: { id: string; removed: boolean }[]; sessions: { status: string; library: string }[] };
    expect(state.guilds.find((x) => x.id === id)?.removed).toBe(true);
    expect(state.sessions).toMatchObject([{ status: 'connected', library: 'raw-test', properties: { os: 'linux', browser: 'raw-test', device: 'raw-test' } }]);
  });

  it('sends op 7 and op 9 on request: discord.js resumes after RECONNECT and a resumable op 9, and identifies again after a non-resumable one', async () => {
    sim = await startSim({ guilds: 2, identifyWindowMs: 0 });
    // discord.js's own throttler would wait 5 s before identifying again; the stand-in's window is 0 here.
    const client = await readyClient(sim, { ws: { buildIdentifyThrottler: () => ({ waitForIdentify: async () => undefined }) } });
    clients.push(client);
    let resumes = 0;
    client.on(Events.ShardResume, () => (resumes += 1));
    let readies = 0;
    client.on(Events.ShardReady, () => (readies += 1));
    expect((await post(`${sim.controlUrl}/gateway/reconnect`, {})).body).toEqual({ connections: 1 });
    await waitUntil('a resume after op 7', () => resumes === 1);
    expect((await post(`${sim.controlUrl}/gateway/invalidate`, { resumable: true })).body).toEqual({ connections: 1 });
    await waitUntil('a resume after op 9 (true)', () => resumes === 2);
    expect((await post(`${sim.controlUrl}/gateway/invalidate`, { resumable: false })).body).toEqual({ connections: 1 });
    await waitUntil('a new session after op 9 (false)', () => readies === 1);
    const counters = sim.state.counters();
    expect(counters.identifies).toBe(2);
    expect(counters.resumes).toBe(2);
    expect(sim.state.sessions().map((s) => s.status).sort()).toEqual(['connected', 'invalidated']);
    // Messages still flow on the new session.
    const seen: string[] = [];
    client.on(Events.MessageCreate, (m) => seen.push(m.id));
    const guild = sim.state.guilds()[0];
    if (!guild) throw new Error('no guild');
    const m = sim.postMessage({ guildId: guild.id, content: 'after' });
    await waitUntil('the message', () => seen.includes(m.id));
  });

  it('posts the same traffic for the same seed, spread over a few busy guilds and a quiet tail', async () => {
    const run = async () => {
      const s = await startSim({ guilds: 200, seed: 99 });
      const handle = s.startTraffic({ ratePerSec: 20_000, count: 3000 });
      const summary = await handle.done;
      const records = s.log.dispatches().filter((d) => d.type === 'MESSAGE_CREATE');
      const messages = records.map((r) => s.state.message(r.key.slice(4)));
      await s.close();
      return { summary, messages: messages.map((m) => [m?.guildId, m?.channelId, m?.authorId, m?.content]) };
    };
    const a = await run();
    const b = await run();
    expect(a.summary.messages).toBe(3000);
    expect(a.messages).toEqual(b.messages);
    const perGuild = new Map<string, number>();
    for (const [g] of a.messages) perGuild.set(String(g), (perGuild.get(String(g)) ?? 0) + 1);
    const sorted = [...perGuild.values()].sort((x, y) => y - x);
    expect(sorted[0]).toBeGreaterThan(3000 * 0.1);
    expect(perGuild.size).toBeGreaterThan(100);
  });

  it('runs traffic with interactions (some mis-signed) from the control API, and stops it on request', async () => {
    sim = await startSim({ guilds: 20, seed: 4 });
    const endpoint: Server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 5 }));
      });
    });
    servers.push(endpoint);
    await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/interactions`;
    const started = await post(`${sim.controlUrl}/traffic`, { ratePerSec: 200, interactions: { url, ratePerSec: 100, badSignatureEvery: 5 } });
    expect(started.status).toBe(201);
    await waitUntil('20 interactions answered', () => sim!.log.interactions().filter((i) => !i.pending).length >= 20);
    const stopped = await post(`${sim.controlUrl}/traffic/${String(started.body['id'])}`, undefined, 'DELETE');
    expect(stopped.body).toMatchObject({ stoppedEarly: true });
    expect(Number(stopped.body['messages'])).toBeGreaterThan(0);
    const page = (await (await fetch(`${sim.controlUrl}/log/interactions?after=0&limit=1000`)).json()) as { records: { badSignature: boolean; failed: boolean; n: number }[]; next: number };
    const bad = page.records.filter((r) => r.badSignature);
    expect(bad.length).toBeGreaterThan(0);
    // This endpoint accepts anything, so every mis-signed interaction is counted as its failure.
    expect(bad.every((r) => r.failed)).toBe(true);
    expect(page.next).toBe(page.records.at(-1)?.n);
    const effects = (await (await fetch(`${sim.controlUrl}/log/effects?after=0`)).json()) as { records: unknown[] };
    expect(effects.records).toEqual([]);
  });

  it('ends every session and resets the token when the daily identify total is spent, as Discord does', async () => {
    sim = await startSim({ guilds: 1, identifyWindowMs: 0, dailyIdentifies: 1 });
    const first = new RawGateway(sim.gatewayUrl);
    const second = new RawGateway(sim.gatewayUrl);
    sockets.push(first, second);
    await Promise.all([first.opened, second.opened]);
    first.identify('tok');
    await waitUntil('READY', () => first.dispatches('READY').length === 1);
    second.identify('tok');
    await waitUntil('both closed', () => first.closeCode !== undefined && second.closeCode !== undefined);
    expect([first.closeCode, second.closeCode]).toEqual([GatewayCloseCodes.AuthenticationFailed, GatewayCloseCodes.AuthenticationFailed]);
    expect(second.ops(GatewayOpcodes.Dispatch)).toHaveLength(0);
    expect(sim.state.counters().identifiesOverDailyLimit).toBe(1);
    const r = await fetch(`${sim.restUrl}/v10/gateway/bot`, { headers: { authorization: 'Bot tok' } });
    expect(r.status).toBe(401);
  });
});
