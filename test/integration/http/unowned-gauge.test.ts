// The edge's reconcile exports what admin status shows as unowned guilds and ignored pins: the
// gauges the "unowned for a minute" alert and the guild-distribution dashboard read (DESIGN §9).
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { metrics } from '../../../src/metrics.js';
import { createEdge, type Edge } from '../../../src/http/edge.js';
import { systemClock } from '../../../src/clock.js';
import { silentLogger } from '../../../src/log.js';
import { snowflake, startEdgeHarness, startFakeGateway, type EdgeHarness, type FakeGateway } from './harness.js';

let h: EdgeHarness | undefined;
let g: FakeGateway | undefined;
let edge: Edge | undefined;
afterEach(async () => {
  await edge?.stop({ drainMs: 0 });
  edge = undefined;
  await g?.kill();
  await h?.close();
  h = undefined;
  g = undefined;
});

const gauge = async (m: typeof metrics.guildsUnowned): Promise<number | undefined> => (await m.get()).values[0]?.value;

describe('the edge exports unowned guilds and ignored pins', () => {
  it('counts guilds Postgres knows that have no lease, and pins naming a pod off the ring', async () => {
    h = await startEdgeHarness();
    g = await startFakeGateway('gw-a');
    await h.addGateway(g);
    const [owned, lapsedA, lapsedB] = [snowflake(), snowflake(), snowflake()];
    for (const guild of [owned, lapsedA, lapsedB]) await h.store.commitEpoch(guild, 'gw-a', 1, 'claim');
    await h.lease(owned, 'gw-a');
    await h.cluster.controls.setPin(owned, 'gw-a');
    await h.cluster.controls.setPin(lapsedA, 'gw-gone');
    // An edge started now (the harness's has read Postgres's guild list already; it re-reads it
    // every 15 s), with its own reconciles only when the test asks.
    await h.edge.routing.stop();
    edge = createEdge({ ...h.edge.deps, internalSecrets: ['internal-secret-0001'], discordApiUrl: h.discord.url, reconcileEveryMs: 60_000, ringParams: h.edge.deps.admin.ringParams, streamRedis: new Redis(h.t.url), clock: systemClock, logger: silentLogger });
    await edge.start();
    await edge.routing.loadAssignments();
    await edge.routing.reconcile();
    expect(await gauge(metrics.guildsUnowned)).toBe(2);
    expect(await gauge(metrics.pinsIgnored)).toBe(1);

    // Leases come back and the stray pin goes: both gauges return to 0 at the next reconcile.
    await h.lease(lapsedA, 'gw-a');
    await h.lease(lapsedB, 'gw-a');
    await h.cluster.controls.setPin(lapsedA, undefined);
    await edge.routing.reconcile();
    expect(await gauge(metrics.guildsUnowned)).toBe(0);
    expect(await gauge(metrics.pinsIgnored)).toBe(0);
  });
});
