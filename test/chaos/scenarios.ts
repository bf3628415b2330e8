// The chaos scenarios of issue 8, one table entry each: break something while the load runs and
// say when the fault began and when every guild was owned and served again. The harness then
// puts the cluster back and judges the window with the history checker.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { createInteractionSigner } from '../../src/sim/interactions/signing.js';
import { killGroup, type RoleProcess } from '../helpers/processes.js';
import { waitFor } from '../helpers/services.js';
import type { ChaosCluster } from './harness.js';

const run = promisify(execFile);

export interface Outcome {
  readonly faultAt: number;
  /** Every guild owned and served again (by running, non-faulty pods). */
  readonly servedAt: number;
  /** Anything the scenario itself counted that the checker cannot see (bad input answered 2xx). */
  readonly extraViolations?: number;
  readonly note?: string;
}

export interface Scenario {
  readonly name: string;
  run(c: ChaosCluster): Promise<Outcome>;
}

const gw = (c: ChaosCluster, name: string): RoleProcess => {
  const p = c.gateways.get(name);
  if (!p) throw new Error(`no gateway ${name}`);
  return p;
};

/** The gateways that own the most guilds, busiest first. */
async function busiest(c: ChaosCluster, n: number): Promise<string[]> {
  const byOwner = await c.leasesByOwner();
  return [...byOwner.entries()].sort((a, b) => b[1].length - a[1].length).slice(0, n).map(([p]) => p);
}

/** Served again, with none of `gone`'s leases left (they expired and were claimed by others). */
async function servedWithout(c: ChaosCluster, gone: readonly string[], timeoutMs: number): Promise<number> {
  await waitFor(`${gone.join(', ')} to own nothing`, async () => {
    const m = await c.leasesByOwner();
    return gone.every((p) => (m.get(p) ?? []).length === 0) || undefined;
  }, timeoutMs, 100);
  return c.waitServing(timeoutMs);
}

async function redisCli(c: ChaosCluster, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(c.privateRedis.port), ...args]);
  return stdout.trim();
}

const key = (guild: string, part: string) => `chaos:{${guild}}:${part}`;

async function kill9(c: ChaosCluster, count: number): Promise<Outcome> {
  const victims = await busiest(c, count);
  const faultAt = Date.now();
  for (const v of victims) killGroup(gw(c, v), 'SIGKILL');
  return { faultAt, servedAt: await servedWithout(c, victims, c.cfg.ttlMs + 60_000), note: `killed ${victims.join(', ')}` };
}

export const SCENARIOS: readonly Scenario[] = [
  { name: 'kill -9 of a gateway', run: (c) => kill9(c, 1) },
  { name: 'kill -9 of two gateways at once', run: (c) => kill9(c, 2) },
  {
    name: 'kill -9 of the owner mid-handoff',
    async run(c) {
      const [owner] = await busiest(c, 1);
      const target = [...c.gateways.keys()].find((p) => p !== owner) as string;
      const guilds = ((await c.leasesByOwner()).get(owner as string) ?? []).slice(0, 20);
      const since = Date.now();
      const p = gw(c, owner as string);
      // Pin a batch to another pod: the owner hands them off a few at a time; kill it once the first is across.
      for (const g of guilds) await c.cluster().controls.setPin(g, target);
      await p.waitForLine('a handoff done', (l) => l.msg === 'guild handed off' && Date.parse(String(l['time'])) >= since, 30_000);
      const faultAt = Date.now();
      killGroup(p, 'SIGKILL');
      const handedOff = p.count((l) => l.msg === 'guild handed off' && Date.parse(String(l['time'])) >= since);
      return { faultAt, servedAt: await servedWithout(c, [owner as string], c.cfg.ttlMs + 60_000), note: `${owner} killed after ${handedOff} of ${guilds.length} handoffs to ${target}` };
    },
  },
  {
    name: 'SIGSTOP of a gateway past the TTL, then SIGCONT',
    async run(c) {
      const [victim] = await busiest(c, 1);
      const p = gw(c, victim as string);
      const faultAt = Date.now();
      killGroup(p, 'SIGSTOP');
      let servedAt: number;
      try {
        servedAt = await servedWithout(c, [victim as string], c.cfg.ttlMs * 3 + 60_000);
      } finally {
        killGroup(p, 'SIGCONT');
      }
      // Back from the pause it must find its leases gone and stop them, not write.
      await p.waitForLine('the paused pod to notice', (l) => l.msg === 'lease lost: guild stopped' && Date.parse(String(l['time'])) >= faultAt, 30_000);
      return { faultAt, servedAt };
    },
  },
  {
    name: 'Redis restarted empty',
    async run(c) {
      const faultAt = Date.now();
      await c.privateRedis.restartEmpty();
      return { faultAt, servedAt: await c.waitServing(c.cfg.ttlMs * 3 + 60_000) };
    },
  },
  {
    name: 'Redis FLUSHALL',
    async run(c) {
      const faultAt = Date.now();
      await redisCli(c, 'FLUSHALL');
      return { faultAt, servedAt: await c.waitServing(c.cfg.ttlMs * 3 + 60_000) };
    },
  },
  {
    name: 'Redis SCRIPT FLUSH',
    async run(c) {
      const faultAt = Date.now();
      await redisCli(c, 'SCRIPT', 'FLUSH');
      // Renewals after the flush must reload their scripts: past one TTL every lease was renewed or lost.
      const until = Date.now() + c.cfg.ttlMs * 2;
      await waitFor('two TTLs of renewals', () => Date.now() >= until || undefined, c.cfg.ttlMs * 3, 100);
      return { faultAt, servedAt: await c.waitServing(60_000) };
    },
  },
  {
    name: 'Redis paused by DEBUG SLEEP past the TTL',
    async run(c) {
      const sleeper = new Redis(c.privateRedis.url, { maxRetriesPerRequest: 0, commandTimeout: c.cfg.ttlMs * 4 });
      const faultAt = Date.now();
      try {
        await sleeper.call('DEBUG', 'SLEEP', String((c.cfg.ttlMs * 1.5) / 1000));
      } finally {
        sleeper.disconnect();
      }
      return { faultAt, servedAt: await c.waitServing(c.cfg.ttlMs * 3 + 60_000) };
    },
  },
  {
    name: 'Postgres cut off',
    async run(c) {
      const faultAt = Date.now();
      c.pgProxy.cut();
      try {
        const until = Date.now() + c.cfg.postgresOutageMs;
        // Leases must keep renewing all through the outage.
        await waitFor('the outage to last', async () => {
          if (!(await c.serving())) throw new Error('ownership broke while Postgres was down');
          return Date.now() >= until || undefined;
        }, c.cfg.postgresOutageMs + 10_000, 250);
      } finally {
        c.pgProxy.restore();
      }
      return { faultAt, servedAt: await c.waitServing(60_000), note: `${c.cfg.postgresOutageMs / 1000} s` };
    },
  },
  {
    name: 'Litestream killed on one gateway',
    async run(c) {
      const [victim] = await busiest(c, 1);
      const p = gw(c, victim as string);
      const pids = [...new Set(p.lines.filter((l) => l.msg === 'litestream started').map((l) => Number(l['pid'])))].filter((pid) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      });
      if (pids.length === 0) throw new Error(`${victim} runs no litestream`);
      const faultAt = Date.now();
      for (const pid of pids) process.kill(pid, 'SIGKILL');
      await p.waitForLine('litestream to come back', (l) => l.msg === 'litestream started' && Date.parse(String(l['time'])) >= faultAt && !pids.includes(Number(l['pid'])), 60_000);
      return { faultAt, servedAt: await c.waitServing(60_000), note: `${pids.length} litestream process(es) of ${victim}` };
    },
  },
  {
    name: 'redis-cli edits: DEL a lease, SET a pin, garbage in lease, epoch and member keys',
    async run(c) {
      const byOwner = await c.leasesByOwner();
      const owners = [...byOwner.keys()].sort();
      const [a, b] = owners as [string, string];
      const [g1, g2, g3, g4] = [...(byOwner.get(a) ?? [])] as [string, string, string, string];
      const faultAt = Date.now();
      await redisCli(c, 'DEL', key(g1, 'lease'));
      await redisCli(c, 'SET', key(g2, 'pin'), b);
      await redisCli(c, 'SET', key(g3, 'lease'), 'not-a-hash');
      await redisCli(c, 'SET', key(g4, 'epoch'), 'banana');
      await redisCli(c, 'DEL', key(g4, 'lease'));
      await redisCli(c, 'HSET', `chaos:member:${b}`, 'ready', 'banana', 'addr', '::garbage::');
      // The pin takes effect: g2 moves to b by handoff.
      await waitFor(`${g2} to move to ${b}`, async () => (await c.cluster().leases.read(g2)).lease?.owner === b || undefined, 60_000, 100);
      return { faultAt, servedAt: await c.waitServing(60_000) };
    },
  },
  {
    name: 'rolling restart of every gateway (SIGTERM one at a time)',
    async run(c) {
      const faultAt = Date.now();
      for (const name of [...c.gateways.keys()]) {
        const p = gw(c, name);
        p.signal('SIGTERM');
        const code = await p.exited;
        if (code !== 0) throw new Error(`${name} exited ${code} after SIGTERM`);
        const again = await c.startGateway(name);
        await again.waitForLine('sessions ready', (l) => l.msg === 'all Discord sessions ready', 60_000);
        await c.waitConverged(120_000);
      }
      return { faultAt, servedAt: await c.waitServing(60_000) };
    },
  },
  {
    name: 'kill -9 of an edge pod with interactions in flight',
    async run(c) {
      const edge = c.edges.get('http-1') as RoleProcess;
      const guilds = c.sim.state.snapshot().guilds.slice(0, 40);
      const retriedBefore = c.balancer.retried();
      const burst = guilds.map((g) => c.sim.sendInteraction({ url: c.interactionsUrl, guildId: g.id, kind: 'command', name: 'stats' }));
      const faultAt = Date.now();
      killGroup(edge, 'SIGKILL');
      await Promise.all(burst);
      return { faultAt, servedAt: await c.waitServing(60_000), note: `${c.balancer.retried() - retriedBefore} request(s) sent again by the balancer` };
    },
  },
  {
    name: 'bad input: 1,000 forged, tampered, malformed, absurd and oversized interactions',
    async run(c) {
      const signer = createInteractionSigner(c.signingKey);
      const guild = c.sim.state.snapshot().guilds[0]!.id;
      const edge = `${c.baseUrl(c.edges.get('http-2') as RoleProcess)}/interactions`;
      const ts = () => String(Math.floor(Date.now() / 1000));
      const valid = (id: string) => JSON.stringify({ id, type: 2, application_id: c.sim.applicationId, token: 'x'.repeat(40), version: 1, guild_id: guild, channel_id: guild, data: { id: '1', name: 'stats', type: 1 }, member: { user: { id: '1', username: 'u' } } });
      const cases: { body: string | Buffer; sig: (t: string, b: string) => string; want: number[] }[] = [];
      for (let i = 0; i < 1000; i++) {
        const id = String(900_000_000_000_000_000n + BigInt(i));
        const kind = i % 5;
        if (kind === 0) cases.push({ body: valid(id), sig: () => 'ab'.repeat(64), want: [401] }); // forged
        else if (kind === 1) cases.push({ body: valid(id), sig: (t) => signer.sign(t, valid(id)).replace(/^./, (ch) => (ch === '0' ? '1' : '0')), want: [401] }); // tampered signature
        else if (kind === 2) cases.push({ body: valid(id).replace('stats', 'reports'), sig: (t) => signer.sign(t, valid(id)), want: [401] }); // body tampered after signing
        else if (kind === 3) cases.push({ body: i % 2 ? '{"type":2,' : JSON.stringify({ id: '-1', type: 2, guild_id: '9'.repeat(40), data: { name: 'x'.repeat(500) } }), sig: (t, b) => signer.sign(t, b), want: [400] }); // malformed / absurd ids, validly signed
        else cases.push({ body: Buffer.alloc(200_000, 'a'), sig: () => 'ab'.repeat(64), want: [413, 401] }); // oversized
      }
      const faultAt = Date.now();
      let accepted = 0;
      const wrong: string[] = [];
      for (let i = 0; i < cases.length; i += 50) {
        await Promise.all(
          cases.slice(i, i + 50).map(async (k) => {
            const t = ts();
            const body = typeof k.body === 'string' ? k.body : k.body.toString();
            const res = await request(edge, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature-ed25519': k.sig(t, body), 'x-signature-timestamp': t }, body: k.body }).catch((err: unknown) => ({ statusCode: 0, body: { text: async () => String(err) } }));
            await res.body.text();
            if (res.statusCode >= 200 && res.statusCode < 300) accepted++;
            if (!k.want.includes(res.statusCode)) wrong.push(`${res.statusCode} (wanted ${k.want.join('/')})`);
          }),
        );
      }
      if (wrong.length > 0) throw new Error(`${wrong.length} bad requests got an unexpected answer, e.g. ${wrong.slice(0, 5).join(', ')}`);
      // Nothing changed: no gateway applied any of them.
      const applied = (await c.applications()).filter((a) => /^int:900000000000000\d{3}$/.test(a.key)).length;
      return { faultAt, servedAt: await c.waitServing(60_000), extraViolations: accepted + applied, note: `${accepted} accepted, ${applied} applied` };
    },
  },
];
