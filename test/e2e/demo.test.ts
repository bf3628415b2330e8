// `npm start` as a user runs it: the cluster comes up, the portal shows three gateways sharing
// the guilds, and Ctrl-C (SIGINT) stops everything, leaving no process behind.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath } from '../helpers/cli.js';
import { redisUrl, databaseUrl, waitFor } from '../helpers/services.js';

function processesUnder(dir: string): string[] {
  try {
    return execFileSync('pgrep', ['-fa', dir], { encoding: 'utf8' }).split('\n').filter((l) => l.trim() && !l.includes('pgrep'));
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe('leasehold demo', () => {
  it('brings the cluster up with the portal showing 3 gateways, and Ctrl-C leaves nothing running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lh-demo-'));
    const proc = spawn(process.execPath, [cliPath, 'demo', '--guilds', '30', '--rate', '10', '--dir', dir], {
      env: { PATH: process.env['PATH'] ?? '', REDIS_URL: redisUrl(), DATABASE_URL: databaseUrl() },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    try {
      const portal = await waitFor('the portal URL', () => /portal: +(http:\/\/\S+)/.exec(out)?.[1], 60_000);
      await waitFor('all 30 guilds owned', () => /guilds owned 30\/30/.test(out) || undefined, 60_000);
      const html = await waitFor('the portal to list 3 gateways', async () => {
        const page = await (await fetch(portal)).text();
        return ['gw-1', 'gw-2', 'gw-3'].every((g) => page.includes(g)) ? page : undefined;
      }, 30_000, 250);
      expect(html).toContain('gw-2');
      expect(processesUnder(dir).length).toBeGreaterThan(3);
      proc.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(out).toContain('stopped.');
      await waitFor('no process left', () => processesUnder(dir).length === 0 || undefined, 10_000);
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      for (const line of processesUnder(dir)) {
        const pid = Number(line.trim().split(/\s+/)[0]);
        if (pid) process.kill(pid, 'SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
