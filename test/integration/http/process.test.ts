// `leasehold http` as a real process (the built dist/): --help, the listening line, readiness,
// membership as an http pod, and SIGTERM → exit 0 after leaving the cluster.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { testRedis, testSchema, waitFor, type TestRedis, type TestSchema } from '../../helpers/services.js';
import { discordKeys } from './harness.js';

const mainPath = fileURLToPath(new URL('../../../dist/src/http/main.js', import.meta.url));

function start(args: string[], env: Record<string, string>) {
  if (!existsSync(mainPath)) throw new Error(`${mainPath} is missing: run \`npm run build\` (npm test does it first)`);
  const child = spawn(process.execPath, ['--input-type=module', '-e', `import(${JSON.stringify(mainPath)}).then((m) => m.main(process.argv.slice(1)))`, '--', ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, out, exited };
}

let t: TestRedis | undefined;
let s: TestSchema | undefined;
afterEach(async () => {
  await t?.cleanup();
  await s?.cleanup();
});

describe('leasehold http (process)', () => {
  it('--help lists its options and the environment variables it reads', async () => {
    const p = start(['--help'], {});
    expect(await p.exited).toBe(0);
    for (const s of ['--port', 'DISCORD_PUBLIC_KEY', 'ADMIN_TOKEN', 'INTERNAL_SECRET', 'POD_ID', 'ADVERTISE_ADDR', 'POST /interactions']) expect(p.out.stdout).toContain(s);
  });

  it('serves, says where it listens, joins as an http member, is ready, and leaves and exits 0 on SIGTERM', async () => {
    t = await testRedis();
    s = await testSchema();
    const p = start([], {
      REDIS_URL: t.url,
      DATABASE_URL: s.url,
      DATABASE_SCHEMA: s.schema,
      KEY_PREFIX: t.prefix,
      POD_ID: 'edge-proc',
      PORT: '0',
      HOST: '127.0.0.1',
      DISCORD_APPLICATION_ID: '111111111111111111',
      DISCORD_PUBLIC_KEY: discordKeys().publicKeyHex,
      INTERNAL_SECRET: 'internal-secret-0001',
      ADMIN_TOKEN: 'admin-token-000001',
    });
    try {
      const line = await waitFor('the listening line', () => p.out.stdout.split('\n').map((l) => (l.startsWith('{') ? (JSON.parse(l) as Record<string, unknown>) : {})).find((l) => l['msg'] === 'listening'), 20_000);
      const url = String(line['url']);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(line).toMatchObject({ role: 'http', pod: 'edge-proc' });
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(200);
      const r = new Redis(t.url);
      try {
        expect(await r.hgetall(t.keys.member('edge-proc'))).toMatchObject({ role: 'http', addr: url.slice('http://'.length), ready: '1' });
        const cluster = (await (await fetch(`${url}/api/cluster`)).json()) as { members: { id: string; role: string }[] };
        expect(cluster.members.map((m) => [m.id, m.role])).toEqual([['edge-proc', 'http']]);
        p.child.kill('SIGTERM');
        expect(await p.exited).toBe(0);
        expect(await r.exists(t.keys.member('edge-proc'))).toBe(0);
      } finally {
        r.disconnect();
      }
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  });

  it('a bad variable stops it before serving, naming the variable (src/cli.ts turns that into exit 2)', async () => {
    const p = start([], { DISCORD_APPLICATION_ID: '111111111111111111', DISCORD_PUBLIC_KEY: 'nothex', INTERNAL_SECRET: 'internal-secret-0001', ADMIN_TOKEN: 'admin-token-000001' });
    const code = await p.exited;
    expect(p.out.stderr).toMatch(/ConfigError[\s\S]*DISCORD_PUBLIC_KEY: expected 64 hex characters/);
    expect(p.out.stdout).not.toContain('listening');
    expect(code).not.toBe(0);
  });
});
