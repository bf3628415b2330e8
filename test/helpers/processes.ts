// Real leasehold processes for end-to-end tests: spawned from the built CLI, JSON log lines parsed,
// waits on log conditions with deadlines, and signals (kill -9, SIGSTOP, SIGTERM) as a chaos test needs.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { cliPath } from './cli.js';

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

export class RoleProcess {
  readonly lines: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  private waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
    /** Every raw line also goes here (LH_TEST_LOG_DIR): the whole story of a failed CI run. */
    copy?: WriteStream,
  ) {
    if (copy) proc.on('exit', () => copy.end());
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      copy?.write(`${line}\n`);
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {
        parsed = { msg: line, level: 'raw' };
      }
      this.lines.push(parsed);
      this.waiters = this.waiters.filter((w) => (w.pred(parsed) ? (w.resolve(parsed), false) : true));
    });
    createInterface({ input: proc.stderr! }).on('line', (line) => this.stderr.push(line));
    this.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve(code ?? (signal ? null : code))));
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  /** Resolves with the first log line (past or future) matching `pred`. */
  waitForLine(what: string, pred: (l: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    const seen = this.lines.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      // The deadline of this wait (not a sleep): on expiry, say what the process was doing.
      const t = setTimeout(() => reject(new Error(this.describeTimeout(what, timeoutMs))), timeoutMs);
      this.waiters.push({ pred, resolve: (l) => (clearTimeout(t), resolve(l)) });
    });
  }

  private describeTimeout(what: string, timeoutMs: number): string {
    const last = this.lines.slice(-8).map((l) => JSON.stringify(l).slice(0, 300));
    return `${this.name}: no log line "${what}" within ${timeoutMs} ms\nlast lines:\n${last.join('\n')}\nstderr:\n${this.stderr.slice(-8).join('\n')}`;
  }

  count(pred: (l: LogLine) => boolean): number {
    return this.lines.filter(pred).length;
  }

  signal(sig: NodeJS.Signals): void {
    this.proc.kill(sig);
  }
}

/**
 * Start `leasehold <args>`. For a post-mortem, LH_TEST_LOG_DIR keeps every process's log lines in
 * `<dir>/<name>-<pid>.jsonl` and LH_TEST_LOG_LEVEL overrides the test's LOG_LEVEL; LH_TEST_NODE_ARGS
 * (space-separated) go to node before the CLI, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
 */
export function startRole(name: string, args: string[], env: Record<string, string>): RoleProcess {
  const level = process.env['LH_TEST_LOG_LEVEL'];
  const fullEnv = { PATH: process.env['PATH'] ?? '', ...env, ...(level ? { LOG_LEVEL: level } : {}) };
  const nodeArgs = (process.env['LH_TEST_NODE_ARGS'] ?? '').split(' ').filter((a) => a.length > 0);
  const proc = spawn(process.execPath, [...nodeArgs, cliPath, ...args], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const dir = process.env['LH_TEST_LOG_DIR'];
  let copy: WriteStream | undefined;
  if (dir) {
    mkdirSync(dir, { recursive: true });
    copy = createWriteStream(join(dir, `${name}-${proc.pid ?? 'x'}.jsonl`));
  }
  return new RoleProcess(name, proc, copy);
}

/** Kill a process and its children (litestream) for good: the process group. */
export function killGroup(p: RoleProcess, sig: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-p.pid, sig);
  } catch {
    /* already gone */
  }
}
