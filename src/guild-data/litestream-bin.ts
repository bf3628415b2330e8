// The Litestream binary (v0.3.13 from @flydotio/litestream-linux-x64, or env LITESTREAM_BIN) and
// one-shot commands run with it (restore, snapshots), their output parsed line by line.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseLitestreamLine, type LitestreamLine } from './litestream-log.js';

export function litestreamBin(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['LITESTREAM_BIN'];
  if (fromEnv) return fromEnv;
  const pkg = createRequire(import.meta.url).resolve('@flydotio/litestream-linux-x64/package.json');
  return join(dirname(pkg), 'litestream');
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly lines: readonly LitestreamLine[];
  /** Raw output lines (the `snapshots` table is not a log line). */
  readonly text: readonly string[];
}

/** Run a one-shot command to completion (SIGKILL after `timeoutMs`). */
export function runLitestream(bin: string, args: readonly string[], timeoutMs = 120_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const text: string[] = [];
    for (const s of [child.stdout, child.stderr]) createInterface({ input: s }).on('line', (l) => text.push(l));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, text, lines: text.filter((l) => l.trim().length > 0).map(parseLitestreamLine) });
    });
  });
}

/** The error a failed command reported, else its last line. */
export function failureDetail(r: RunResult): string {
  const errLine = [...r.lines].reverse().find((l) => l.level === 'error');
  if (errLine) return errLine.error ?? errLine.msg;
  if (r.signal) return `killed by ${r.signal}`;
  return r.text.at(-1) ?? `exit code ${String(r.code)}`;
}
