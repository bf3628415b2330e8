// `leasehold sim` as a real process: the listening line, the control API over HTTP, the JSON-lines
// log file, configuration errors (exit 2) and a clean exit 0 on SIGTERM. Runs the compiled entry
// (`npx tsc -p tsconfig.json` first; `npm test` does it).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startSim } from '../../../src/sim/index.js';
import { waitUntil } from './helpers.js';

const entry = fileURLToPath(new URL('../../../dist/src/sim/main-entry.js', import.meta.url));

interface Spawned {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  stderr: string;
  exit: Promise<number | null>;
}

function spawnSim(args: string[], env: Record<string, string> = {}): Spawned {
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npx tsc -p tsconfig.json\` (npm test does it)`);
  const child = spawn(process.execPath, [entry, ...args], { env: { PATH: process.env['PATH'] ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const s: Spawned = { child, lines: [], stderr: '', exit: new Promise((r) => child.on('exit', (code) => r(code))) };
  let buf = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        s.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        s.lines.push({ raw: line });
      }
    }
  });
  child.stderr?.on('data', (d: Buffer) => (s.stderr += d.toString()));
  return s;
}

describe('leasehold sim as a process', () => {
  const running: Spawned[] = [];
  const dirs: string[] = [];
  afterEach(() => {
    for (const s of running.splice(0)) if (s.child.exitCode === null) s.child.kill('SIGKILL');
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('serves the guilds it was asked for, logs one listening line, writes its log file and exits 0 on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
    dirs.push(dir);
    const logFile = join(dir, 'history.jsonl');
    const s = spawnSim(['--guilds', '5', '--shards', '2', '--seed', '7', '--log-file', logFile]);
    running.push(s);
    await waitUntil('the listening line', () => s.lines.some((l) => l['msg'] === 'listening'), 15_000);
    const listening = s.lines.filter((l) => l['msg'] === 'listening');
    expect(listening).toHaveLength(1);
    const l = listening[0] as { url: string; restUrl: string; controlUrl: string; gatewayUrl: string; publicKey: string; applicationId: string; role: string };
    expect(l.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(l.restUrl).toBe(`${l.url}/api`);
    expect(l.controlUrl).toBe(`${l.url}/control`);
    expect(l.gatewayUrl).toBe(`${l.url.replace('http', 'ws')}/gateway`);
    expect(l.publicKey).toMatch(/^[0-9a-f]{64}$/);
    expect(l.applicationId).toMatch(/^\d{17,20}$/);
    expect(l.role).toBe('sim');

    expect((await fetch(`${l.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${l.url}/readyz`)).status).toBe(200);
    const state = (await (await fetch(`${l.controlUrl}/state`)).json()) as { shards: number; guilds: { id: string; shard: number; channelIds: string[] }[] };
    expect(state.shards).toBe(2);
    expect(state.guilds).toHaveLength(5);
    for (const g of state.guilds) expect(g.shard).toBe(Number((BigInt(g.id) >> 22n) % 2n));
    expect(new Set(state.guilds.map((g) => g.shard))).toEqual(new Set([0, 1]));
    // Deterministic from the seed: the same world as an in-process stand-in with seed 7.
    const same = await startSim({ guilds: 5, shards: 2, seed: 7 });
    expect(state.guilds.map((g) => g.id)).toEqual(same.state.guilds().map((g) => g.id));
    expect(l.applicationId).toBe(same.applicationId);
    await same.close();

    const guild = state.guilds[0];
    if (!guild) throw new Error('no guild');
    const posted = await fetch(`${l.controlUrl}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ guildId: guild.id, content: 'hi' }) });
    expect(posted.status).toBe(201);
    const message = (await posted.json()) as { id: string; channelId: string };
    expect(message.channelId).toBe(guild.channelIds[0]);
    const bad = await fetch(`${l.controlUrl}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ guildId: 'nope' }) });
    expect(bad.status).toBe(400);
    const traffic = await fetch(`${l.controlUrl}/traffic`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ratePerSec: 500, count: 20 }) });
    expect(traffic.status).toBe(201);

    type Page = { records: { seq: number; type: string; key: string }[]; next: number };
    const pages: Page['records'] = [];
    let after = 0;
    // Read the log page by page (7 at a time) until all 21 messages are in, within a deadline.
    const deadline = Date.now() + 10_000;
    while (pages.filter((r) => r.type === 'MESSAGE_CREATE').length < 21) {
      if (Date.now() > deadline) throw new Error(`only ${pages.length} dispatches logged after 10 s`);
      const page = (await (await fetch(`${l.controlUrl}/log/dispatches?after=${after}&limit=7`)).json()) as Page;
      expect(page.records.length).toBeLessThanOrEqual(7);
      pages.push(...page.records);
      after = page.next;
    }
    const messages = pages.filter((r) => r.type === 'MESSAGE_CREATE');
    expect(messages).toHaveLength(21);
    expect(messages[0]?.key).toBe(`msg:${message.id}`);
    expect(pages.map((r) => r.seq)).toEqual(pages.map((_r, i) => i + 1));

    s.child.kill('SIGTERM');
    expect(await s.exit).toBe(0);
    const fileRecords = readFileSync(logFile, 'utf8').trim().split('\n').map((x) => JSON.parse(x) as { kind: string; type?: string });
    expect(fileRecords.filter((r) => r.kind === 'dispatch' && r.type === 'MESSAGE_CREATE')).toHaveLength(21);
  });

  it('lists its options and environment variables with --help, and exits 2 on a bad PORT', async () => {
    const help = spawnSim(['--help']);
    running.push(help);
    expect(await help.exit).toBe(0);
    const text = help.lines.map((x) => String(x['raw'] ?? '')).join('\n');
    for (const word of ['--guilds', '--shards', '--rate', '--seed', '--max-concurrency', '--identify-window-ms', '--daily-identifies', '--global-rate-limit', '--log-file', 'PORT', 'HOST', 'LOG_LEVEL']) expect(text).toContain(word);
    const bad = spawnSim(['--guilds', '1'], { PORT: 'abc' });
    running.push(bad);
    expect(await bad.exit).toBe(2);
    expect(bad.stderr).toMatch(/PORT/);
  });
});
