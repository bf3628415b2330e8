// The benchmark harness works end to end (`npm run bench -- --quick`, `npm run bench:scale --
// --quick`): every part runs at a tiny size against the real Redis, Postgres, stand-in and
// processes of both designs, and writes a complete, well-formed table. No timing is asserted:
// quick-mode numbers mean nothing; the targets belong to the full run. Measured: 3.3 min for
// the bench part at a load average of ~15 on 2 cores; the limits leave room for more load.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { databaseUrl, redisUrl } from '../../helpers/services.js';

const run = promisify(execFile);
const dist = (p: string) => fileURLToPath(new URL(`../../../dist/bench/${p}`, import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'lh-bench-quick-'));
const env = () => ({ ...process.env, REDIS_URL: redisUrl(), DATABASE_URL: databaseUrl() });

afterAll(() => rmSync(out, { recursive: true, force: true }));

interface Row {
  measure: string;
  leasehold: string;
  baseline: string;
  target: string;
  verdict: string;
}

describe('benchmark harness (--quick)', () => {
  it('npm run bench --quick runs both designs through every part and writes one complete table as JSON and Markdown', async () => {
    const { stderr } = await run(process.execPath, [dist('run.js'), '--quick', '--out', out], { env: env(), timeout: 540_000, maxBuffer: 1 << 26 });
    expect(stderr).toMatch(/bench: done in/); // progress lines went to stderr
    const report = JSON.parse(readFileSync(join(out, 'bench-quick.json'), 'utf8')) as { rows: Row[]; notes: string[]; designs: { design: string }[]; machine: { cores: number; cpuModel: string } };
    expect(report.notes.filter((n) => n.includes('did not complete'))).toEqual([]);
    expect(report.designs.map((d) => d.design).sort()).toEqual(['baseline', 'leasehold']);
    const measures = report.rows.map((r) => r.measure);
    for (const want of [/^crash failover, 10 guilds per gateway/, /^events lost in that failover/, /^gateway RSS at 10 guilds/, /^gateway open file descriptors/, /^planned move of \d+ guilds: pause p50 \/ p99/, /^events lost in that move/, /^rolling restart of 2 gateways: events lost/, /^rolling restart: interactions failed/, /^edge forwarding at \d+ req\/s, end to end/, /^edge forwarding overhead/, /^ring balance at 3 pods/, /^ring balance at 10 pods/, /^ring balance at 32 pods/, /^guilds moved when a pod joins 32/, /^keeping 10k guilds owned/]) {
      expect(measures.some((m) => want.test(m)), `a row matching ${want}`).toBe(true);
    }
    // Every row has a value on both sides, and no value is a NaN or an undefined that leaked through.
    for (const r of report.rows) {
      expect(r.leasehold, r.measure).not.toBe('');
      expect(r.baseline, r.measure).not.toBe('');
      expect(`${r.leasehold} ${r.baseline}`, r.measure).not.toMatch(/NaN|undefined|Infinity/);
      if (r.target) expect(r.verdict, r.measure).toMatch(/^(met|MISSED)/);
    }
    const md = readFileSync(join(out, 'bench-quick.md'), 'utf8');
    expect(md).toContain(`${report.machine.cores} cores (${report.machine.cpuModel})`);
    expect(md.split('\n').filter((l) => l.startsWith('| ')).length).toBe(report.rows.length + 2);
  }, 570_000);

  it('npm run bench:scale --quick runs the ownership loops through start, a death and a join and writes its table', async () => {
    await run(process.execPath, [dist('scale.js'), '--quick', '--out', out], { env: env(), timeout: 280_000, maxBuffer: 1 << 26 });
    const r = JSON.parse(readFileSync(join(out, 'scale-quick.json'), 'utf8')) as { phases: Record<string, { seconds: number }>; samples: { held: number }[]; rows: string[][] };
    expect(Object.keys(r.phases).sort()).toEqual(['podDies', 'podJoins', 'start', 'steady']);
    for (const p of Object.values(r.phases)) expect(Number.isFinite(p.seconds)).toBe(true);
    expect(r.samples.length).toBeGreaterThan(3);
    expect(Math.max(...r.samples.map((s) => s.held))).toBe(2000);
    expect(r.rows.length).toBe(7);
    for (const row of r.rows) expect(row[1], row[0]).not.toMatch(/\?|NaN/);
  }, 300_000);
});
