// `leasehold check-history` as a process: the stand-in's log file (or its control API), gateway
// application logs and Postgres's assignment log in, counts and an exit code out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { testSchema, type TestSchema } from '../helpers/services.js';
import { createAssignmentStore } from '../../src/store/index.js';
import { startSim } from '../../src/sim/index.js';

const G = '100000000000000001';
/** Deadline of one CLI run: a node start on a loaded 2-core machine can take many seconds. */
const CLI_DEADLINE_MS = 90_000;
let s: TestSchema;
let dir: string;
let env: Record<string, string>;

const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const dispatch = (seq: number, key: string, at: number) => ({ kind: 'dispatch', seq, at, shard: 0, type: 'MESSAGE_CREATE', guildId: G, key, sessions: ['a'] });
const application = (key: string, pod: string, epoch: number, at: number) => ({ guild: G, key, pod, epoch, at, t: 'MESSAGE_CREATE', outcome: 'applied', effects: [] });

beforeAll(async () => {
  s = await testSchema();
  dir = mkdtempSync(join(tmpdir(), 'lh-check-'));
  env = { DATABASE_URL: s.url, DATABASE_SCHEMA: s.schema, LOG_LEVEL: 'silent' };
  const store = createAssignmentStore({ databaseUrl: s.url, schema: s.schema });
  await store.migrate();
  await store.commitEpoch(G, 'gw-1', 1, 'claim');
  await store.close();
  const now = Date.now();
  writeFileSync(join(dir, 'sim.jsonl'), jsonl([dispatch(1, 'msg:1', now + 1000), dispatch(2, 'msg:2', now + 2000)]));
  for (const pod of ['gw-1', 'gw-2']) mkdirSync(join(dir, 'data', pod, 'history'), { recursive: true });
  writeFileSync(join(dir, 'data', 'gw-1', 'history', 'gw-1.jsonl'), jsonl([application('msg:1', 'gw-1', 1, now + 1001), application('msg:2', 'gw-1', 1, now + 2001)]));
  writeFileSync(join(dir, 'data', 'gw-2', 'history', 'gw-2.jsonl'), '');
});

afterAll(async () => {
  await s.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('leasehold check-history', { timeout: 240_000 }, () => {
  it('exits 0 on a clean history found under a folder of gateway data dirs, with the counts', async () => {
    const r = await runCli(['check-history', '--sim-log', join(dir, 'sim.jsonl'), '--history', join(dir, 'data')], env, CLI_DEADLINE_MS);
    expect(r.stderr).toMatch(/2 applications from 2 gateway log\(s\)/);
    expect(r.stdout).toMatch(/events dispatched 2, applications logged 2/);
    expect(r.stdout).toMatch(/history clean/);
    expect(r.code).toBe(0);
  });

  it('exits 1 and names the violation: an event lost, a write under an epoch Postgres never saw, two pods at once', async () => {
    const now = Date.now();
    writeFileSync(join(dir, 'sim-lost.jsonl'), jsonl([dispatch(1, 'msg:1', now), dispatch(2, 'msg:3', now), dispatch(3, 'msg:4', now)]));
    writeFileSync(join(dir, 'stale.jsonl'), jsonl([application('msg:1', 'gw-1', 1, now + 1), application('msg:4', 'gw-2', 5, now + 1)]));
    const r = await runCli(['check-history', '--sim-log', join(dir, 'sim-lost.jsonl'), '--history', join(dir, 'stale.jsonl'), '--json'], env, CLI_DEADLINE_MS);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { lost: { key: string }[]; staleWrites: { reason: string }[]; overlapping: unknown[]; violations: number };
    expect(report.lost.map((l) => l.key)).toEqual(['msg:3']);
    expect(report.staleWrites.map((x) => x.reason)).toEqual(['epoch 5 was never committed to Postgres']);
    // gw-1 and gw-2 applied in the same millisecond: their intervals overlap.
    expect(report.overlapping).toHaveLength(1);
    expect(report.violations).toBe(3);
    const text = await runCli(['check-history', '--sim-log', join(dir, 'sim-lost.jsonl'), '--history', join(dir, 'stale.jsonl')], env, CLI_DEADLINE_MS);
    expect(text.stdout).toMatch(/FAIL {2}events never applied\s+1\n\s+100000000000000001 msg:3/);
  });

  it('exits 2 with a clear message on bad input, and 4 when Postgres cannot be read', async () => {
    const missing = await runCli(['check-history', '--sim-log', join(dir, 'nope.jsonl'), '--history', join(dir, 'data')], env, CLI_DEADLINE_MS);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.jsonl: no such file/);
    writeFileSync(join(dir, 'bad.jsonl'), `${JSON.stringify(application('msg:1', 'gw-1', 1, 1))}\n{"guild":"x"}\n${JSON.stringify(application('msg:2', 'gw-1', 1, 2))}\n`);
    const bad = await runCli(['check-history', '--sim-log', join(dir, 'sim.jsonl'), '--history', join(dir, 'bad.jsonl')], env, CLI_DEADLINE_MS);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.jsonl:2: .*key/);
    const neither = await runCli(['check-history', '--history', join(dir, 'data')], env, CLI_DEADLINE_MS);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/--sim-log <file> or --sim-url/);
    const noPg = await runCli(['check-history', '--sim-log', join(dir, 'sim.jsonl'), '--history', join(dir, 'data')], { ...env, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/postgres' }, CLI_DEADLINE_MS);
    expect(noPg.code).toBe(4);
    expect(noPg.stderr).toMatch(/could not read the assignment log/);
  });

  it("reads a running stand-in's records through its control API", async () => {
    const sim = await startSim({ guilds: 2, shards: 1, seed: 3 });
    try {
      const g = sim.state.snapshot().guilds[0]!.id;
      sim.postMessage({ guildId: g, content: 'hello' });
      const r = await runCli(['check-history', '--sim-url', sim.controlUrl, '--history', join(dir, 'data'), '--no-postgres', '--json'], env, CLI_DEADLINE_MS);
      // Nobody applied the stand-in's message: it is reported lost.
      const report = JSON.parse(r.stdout) as { events: number; lost: { guild: string }[]; lineageChecked: boolean };
      expect(report).toMatchObject({ events: 1, lineageChecked: false });
      expect(report.lost.map((l) => l.guild)).toEqual([g]);
      expect(r.code).toBe(1);
    } finally {
      await sim.close();
    }
  });
});
