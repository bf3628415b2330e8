import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { Scripts } from '../../../src/cluster/scripts.js';
import { SharedRateWindow, SlidingRateWindow, type SharedBudget } from '../../../src/cluster/rate-window.js';
import { RedisIdentifyThrottler, type SessionBudget } from '../../../src/gateway/identify-throttle.js';
import { sharedMakeRequest, InvalidRequestBudgetError } from '../../../src/gateway/rest-limiter.js';
import { silentLogger } from '../../../src/log.js';
import { testRedis, waitFor, type TestRedis } from '../../helpers/services.js';

let t: TestRedis;
const extra: Redis[] = [];
beforeEach(async () => {
  t = await testRedis();
});
afterEach(async () => {
  for (const r of extra.splice(0)) r.disconnect();
  await t.cleanup();
});

function pod(): Scripts {
  const r = new Redis(t.url);
  extra.push(r);
  return new Scripts(r);
}

describe('identify throttle shared through Redis', () => {
  it('two pods identifying 4 shards each never identify twice in one bucket window', async () => {
    const budget = async (): Promise<SessionBudget> => ({ remaining: 1000, total: 1000, resetAfterMs: 86_400_000, maxConcurrency: 2 });
    const windowMs = 150;
    const identifies: { bucket: number; at: number }[] = [];
    const pods = [pod(), pod()].map((scripts) => new RedisIdentifyThrottler({ scripts, keys: t.keys, logger: silentLogger, windowMs, budgetFloor: 10, budget }));
    const ac = new AbortController();
    await Promise.all(
      pods.flatMap((p) =>
        [0, 1, 2, 3].map(async (shard) => {
          await p.waitForIdentify(shard, ac.signal);
          identifies.push({ bucket: shard % 2, at: performance.now() });
        }),
      ),
    );
    expect(identifies).toHaveLength(8);
    for (const bucket of [0, 1]) {
      const times = identifies.filter((i) => i.bucket === bucket).map((i) => i.at).sort((a, b) => a - b);
      expect(times).toHaveLength(4);
      // Redis PX expiry has ms resolution; allow 2 ms of timer slack.
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(windowMs - 2);
    }
  });

  it('stops identifying at the daily budget floor', async () => {
    let asked = 0;
    const budget = async (): Promise<SessionBudget> => {
      asked++;
      return { remaining: 5, total: 1000, resetAfterMs: 60_000, maxConcurrency: 1 };
    };
    const th = new RedisIdentifyThrottler({ scripts: pod(), keys: t.keys, logger: silentLogger, windowMs: 100, budgetFloor: 5, budget });
    const ac = new AbortController();
    let identified = false;
    const waiting = th.waitForIdentify(0, ac.signal).then(() => (identified = true));
    await waitFor('the throttler to read the budget', () => asked >= 1 || undefined);
    // It read the budget, found it at the floor, and went to sleep without taking a slot.
    expect(await t.redis.exists(t.keys.rate('identify:0'))).toBe(0);
    ac.abort(new Error('test over'));
    await expect(waiting).rejects.toThrow('test over');
    expect(identified).toBe(false);
  });
});

describe('REST budgets shared through Redis', () => {
  let server: Server;
  let url: string;
  const hits: number[] = [];
  let status = 200;
  beforeEach(async () => {
    hits.length = 0;
    status = 200;
    server = createServer((_req, res) => {
      hits.push(performance.now());
      res.statusCode = status;
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v10/channels/1/messages`;
  });
  afterEach(() => new Promise<void>((r) => server.close(() => r())));

  it('a burst late in a window and another at the start of the next: at most the limit in any window span (sliding), where fixed windows let twice through', async () => {
    const limit = 20;
    const windowMs = 500;
    /** Two pods: a few requests early in a window, then a burst of both pods late in it. */
    const run = async (make: (scripts: Scripts, name: string) => SharedBudget, name: string): Promise<number> => {
      hits.length = 0;
      const makers = [pod(), pod()].map((scripts) => sharedMakeRequest({ global: make(scripts, name), invalid: new SharedRateWindow(scripts, t.keys, `${name}:invalid`, 10_000, 600_000), invalidFloor: 100, logger: silentLogger }));
      const post = (m: (typeof makers)[number]) => m(url, { method: 'POST', body: '{}' });
      await Promise.all(Array.from({ length: 5 }, () => post(makers[0]!)));
      // The scenario itself, not a synchronisation: the burst is asked for late in the window.
      const lateInWindow = windowMs * 0.8;
      await new Promise((r) => setTimeout(r, lateInWindow));
      await Promise.all(makers.flatMap((m) => Array.from({ length: limit }, () => post(m))));
      // The most requests the server saw in any span of windowMs (its windows can start anywhere).
      const at = [...hits].sort((a, b) => a - b);
      let most = 0;
      for (let i = 0, j = 0; i < at.length; i++) {
        while ((at[i] as number) - (at[j] as number) >= windowMs) j++;
        most = Math.max(most, i - j + 1);
      }
      expect(hits).toHaveLength(5 + 2 * limit);
      return most;
    };
    // 100 ms of slack (as GLOBAL_WINDOW_MS has 150) for the round trips between taking a slot and arriving.
    expect(await run((scripts, name) => new SlidingRateWindow(scripts, t.keys, name, limit, windowMs + 100), 'sliding')).toBeLessThanOrEqual(limit);
    expect(await run((scripts, name) => new SharedRateWindow(scripts, t.keys, name, limit, windowMs + 100), 'fixed')).toBeGreaterThan(limit);
  });

  it('a sliding budget that a hand edit turned into garbage starts afresh instead of failing every call', async () => {
    const r = new Redis(t.url);
    extra.push(r);
    await r.set(t.keys.rate('edited'), 'garbage');
    const w = new SlidingRateWindow(pod(), t.keys, 'edited', 2, 1000);
    expect((await w.tryTake()).allowed).toBe(true);
    expect((await w.tryTake()).allowed).toBe(true);
    const refused = await w.tryTake();
    expect(refused).toMatchObject({ allowed: false, count: 2 });
    expect(refused.resetInMs).toBeGreaterThan(0);
    expect(refused.resetInMs).toBeLessThanOrEqual(1001);
  });

  it('two pods together stay within the global limit per window', async () => {
    const limit = 20;
    const makers = [pod(), pod()].map((scripts) =>
      sharedMakeRequest({ global: new SharedRateWindow(scripts, t.keys, 'global', limit, 500), invalid: new SharedRateWindow(scripts, t.keys, 'invalid', 10_000, 600_000), invalidFloor: 100, logger: silentLogger }),
    );
    const start = performance.now();
    await Promise.all(makers.flatMap((m) => Array.from({ length: 30 }, () => m(url, { method: 'POST', body: '{}' }))));
    const elapsed = performance.now() - start;
    expect(hits).toHaveLength(60);
    // 60 requests at 20 per 500 ms window need at least two full windows to pass.
    expect(elapsed).toBeGreaterThanOrEqual(2 * 500 - 10);
  });

  it('counts 401/403/429 answers and refuses to send near the invalid-request budget', async () => {
    status = 401;
    const scripts = pod();
    const invalid = new SharedRateWindow(scripts, t.keys, 'invalid', 10, 60_000);
    const make = sharedMakeRequest({ global: new SharedRateWindow(scripts, t.keys, 'global', 1000, 1000), invalid, invalidFloor: 3, logger: silentLogger });
    for (let i = 0; i < 7; i++) await make(url, { method: 'GET' });
    expect((await invalid.tryTake(0)).count).toBe(7);
    await expect(make(url, { method: 'GET' })).rejects.toBeInstanceOf(InvalidRequestBudgetError);
    expect(hits).toHaveLength(7);
  });
});
