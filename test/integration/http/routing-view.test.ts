// The edge's routing view: ready only after its first full reconcile, follows lh:events, and
// falls back to a full reconcile when the stream has a gap.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '../../helpers/services.js';
import { snowflake, startEdgeHarness, startFakeGateway, type EdgeHarness, type FakeGateway } from './harness.js';

let h: EdgeHarness | undefined;
const gateways: FakeGateway[] = [];
afterEach(async () => {
  for (const g of gateways.splice(0)) await g.kill();
  await h?.close();
  h = undefined;
});

describe('the routing view', () => {
  it('/readyz is 503 until the first reconcile has given the edge a view', async () => {
    h = await startEdgeHarness();
    await h.edge.routing.stop();
    // A second edge app over the same deps, never started.
    const { createEdge } = await import('../../../src/http/edge.js');
    const { Redis } = await import('ioredis');
    const { silentLogger } = await import('../../../src/log.js');
    const { systemClock } = await import('../../../src/clock.js');
    const cold = createEdge({ ...h.edge.deps, internalSecrets: ['internal-secret-0001'], discordApiUrl: h.discord.url, reconcileEveryMs: 60_000, ringParams: h.edge.deps.admin.ringParams, streamRedis: new Redis(h.t.url), clock: systemClock, logger: silentLogger });
    const server = createServer(cold.app.callback());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
      const before = await fetch(url);
      expect(before.status).toBe(503);
      expect(await before.json()).toMatchObject({ ok: false, checks: { routing: { ok: false } } });
      await cold.start();
      expect((await fetch(url)).status).toBe(200);
    } finally {
      server.close();
      await cold.stop({ drainMs: 0 });
    }
  });

  it('follows lease changes from lh:events and keeps them as recent moves', async () => {
    h = await startEdgeHarness();
    const a = await startFakeGateway('gw-a');
    const b = await startFakeGateway('gw-b');
    gateways.push(a, b);
    await h.addGateway(a);
    await h.addGateway(b);
    const G = snowflake();
    await h.lease(G, 'gw-a');
    await h.routed(G, 'gw-a');
    await h.lease(G, 'gw-b');
    await h.routed(G, 'gw-b');
    expect(h.edge.routing.route(G)).toEqual({ owner: 'gw-b', epoch: 2, addr: b.addr });
    expect(h.edge.routing.recentMoves().map((m) => [m.type, m.guildId, m.from ?? '', m.owner])).toEqual([
      ['handoff', G, 'gw-a', 'gw-b'],
      ['claim', G, '', 'gw-a'],
    ]);
  });

  it('a gap in the stream (it was deleted and recreated) brings a full reconcile that sees hand edits', async () => {
    h = await startEdgeHarness();
    const a = await startFakeGateway('gw-a');
    gateways.push(a);
    await h.addGateway(a);
    const G = snowflake();
    // A lease written by hand (redis-cli), which no event announces…
    await h.t.redis.del(h.t.keys.events);
    await h.t.redis.hset(h.t.keys.lease(G), 'owner', 'gw-a', 'epoch', '5', 'since', String(Date.now()));
    await h.t.redis.pexpire(h.t.keys.lease(G), 60_000);
    // …then any change recreates the stream: the reader notices and reconciles.
    await h.cluster.controls.setPin(snowflake(), 'gw-a');
    await waitFor('the reconcile to find the hand-written lease', () => h?.edge.routing.table.lease(G)?.epoch === 5);
    expect(h.edge.routing.route(G)).toEqual({ owner: 'gw-a', epoch: 5, addr: a.addr });
  });
});
