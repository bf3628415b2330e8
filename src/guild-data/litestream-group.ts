// Supervises one Litestream process (one group of guilds): starts it with the group's rendered
// config, restarts it with backoff when it crashes, stops it with SIGTERM (which makes
// Litestream sync every database one last time) when the group's config changes, and stops
// a process that ran out of file descriptors instead of letting it spin.
import { spawn, type ChildProcess } from 'node:child_process';
import { rename, writeFile } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { createInterface } from 'node:readline';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { metrics } from '../metrics.js';
import { backoffDelay, type BackoffPolicy } from './backoff.js';
import { effectiveLevel, isEmfile, parseLitestreamLine, type LitestreamLine } from './litestream-log.js';

export type GroupState = 'stopped' | 'running' | 'stopping' | 'backoff' | 'emfile';

export interface LitestreamGroupOptions {
  readonly id: string;
  readonly bin: string;
  readonly configPath: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Restarts after a crash. */
  readonly backoff: BackoffPolicy;
  /** Restarts after running out of file descriptors: slower, it will not fix itself quickly. */
  readonly emfileBackoff: BackoffPolicy;
  /** A run this long forgets earlier crashes (backoff starts over). */
  readonly stableAfterMs: number;
  /** How long a SIGTERM may take (final syncs) before SIGKILL. */
  readonly stopTimeoutMs: number;
  /**
   * How long after Litestream opened a database its first sync has surely begun (a monitor
   * tick plus margin). Litestream v0.3.13 reads a database lazily on its first tick, and its
   * SIGTERM flush skips databases it has not read yet: a stop sooner than this would exit 0
   * having shipped nothing (and constant churn would starve replication).
   */
  readonly firstSyncMs: number;
  /** Every parsed output line, for replication progress. */
  readonly onLine: (line: LitestreamLine) => void;
  /** Guild id of a database path, for log fields. */
  readonly guildOf: (dbPath: string) => string | undefined;
  /** Scheduling niceness of the process (0-19; 0 = the gateway's own priority). */
  readonly nice?: number;
}

export interface StopOutcome {
  /** A process was running when the stop began. */
  readonly wasRunning: boolean;
  /** It exited 0 after SIGTERM: every database it replicated was synced one last time. */
  readonly clean: boolean;
  /** Wall-clock ms when SIGTERM was sent: writes committed before it are in the replica when clean. */
  readonly signalledAt: number;
  /** It had run out of file descriptors. */
  readonly emfile?: boolean;
}

export interface GroupStatus {
  readonly id: string;
  readonly state: GroupState;
  readonly pid: number | undefined;
  readonly dbs: number;
  /** Unplanned restarts (crash, emfile) since this supervisor started. */
  readonly crashes: number;
  /** Crashes in the last minute: three or more is a crash loop. */
  readonly recentCrashes: number;
  readonly lastError: string | undefined;
  /** How long it has been in this state (ms). */
  readonly stateForMs: number;
}

const CRASH_WINDOW_MS = 60_000;
const EMFILE_KILL_AFTER_MS = 2000;
export const CRASH_LOOP_THRESHOLD = 3;

export class LitestreamGroup {
  private child: ChildProcess | undefined;
  private stateValue: GroupState = 'stopped';
  private stateAt = 0;
  private configText: string | undefined;
  private dbCount = 0;
  private attempt = 0;
  private startedAt = 0;
  /** "initialized db" lines of the current process, and when the last one arrived. */
  private opened = 0;
  private lastOpenedAt = 0;
  private onOpened: (() => void) | undefined;
  private crashes = 0;
  private crashTimes: number[] = [];
  private lastError: string | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopRequested = false;
  private emfileSeen = false;
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  private ops: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly o: LitestreamGroupOptions) {
    this.stateAt = o.clock.now();
  }

  private get state(): GroupState {
    return this.stateValue;
  }

  private set state(s: GroupState) {
    if (s !== this.stateValue) this.stateAt = this.o.clock.now();
    this.stateValue = s;
  }

  get pid(): number | undefined {
    return this.state === 'running' || this.state === 'stopping' ? this.child?.pid : undefined;
  }

  status(): GroupStatus {
    const now = this.o.clock.now();
    return {
      id: this.o.id,
      state: this.state,
      pid: this.pid,
      dbs: this.dbCount,
      crashes: this.crashes,
      recentCrashes: this.crashTimes.filter((t) => now - t < CRASH_WINDOW_MS).length,
      lastError: this.lastError,
      stateForMs: now - this.stateAt,
    };
  }

  /**
   * Replace the group's config: stop the running process (SIGTERM: a final sync of every
   * database), write the new config, start again unless it is empty. While the group waits out
   * a crash backoff, the new config is used by the pending restart instead.
   */
  reconfigure(configText: string | undefined, dbCount: number, onStopped?: (outcome: StopOutcome) => void): Promise<StopOutcome> {
    return this.serial(async () => {
      const outcome = await this.stopProcess();
      // Between the old process's last line and the new one's first: the caller switches the
      // bookkeeping of which epoch each database replicates to.
      onStopped?.(outcome);
      this.configText = dbCount > 0 ? configText : undefined;
      this.dbCount = this.configText === undefined ? 0 : dbCount;
      if (this.configText === undefined) {
        this.clearRestart();
        this.state = 'stopped';
        return outcome;
      }
      await this.writeConfig(this.configText);
      // The process we just replaced had run out of descriptors: a bigger config would only
      // hit the wall again at once. Wait out the backoff instead of spinning.
      if (outcome.emfile && this.state === 'stopped') this.enterBackoff('emfile', null, null);
      if (this.state !== 'backoff' && this.state !== 'emfile') {
        if (outcome.wasRunning) metrics.litestreamRestarts.inc({ reason: 'config' });
        await this.spawnProcess();
      }
      return outcome;
    });
  }

  /** Stop for good (shutdown): SIGTERM, final syncs, no restart. */
  stop(): Promise<StopOutcome> {
    return this.serial(async () => {
      this.closed = true;
      this.clearRestart();
      const outcome = await this.stopProcess();
      this.state = 'stopped';
      return outcome;
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.ops.then(fn, fn);
    this.ops = next.catch(() => undefined);
    return next;
  }

  private async writeConfig(text: string): Promise<void> {
    const tmp = `${this.o.configPath}.tmp`;
    await writeFile(tmp, text, { mode: 0o600 });
    await rename(tmp, this.o.configPath);
  }

  private async spawnProcess(): Promise<void> {
    if (this.closed || this.configText === undefined) return;
    this.stopRequested = false;
    this.emfileSeen = false;
    const child = spawn(this.o.bin, ['replicate', '-config', this.o.configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    if (this.o.nice && child.pid !== undefined) {
      try {
        setPriority(child.pid, this.o.nice);
      } catch (err) {
        this.o.logger.warn({ err, group: this.o.id }, 'could not lower the Litestream process priority');
      }
    }
    this.state = 'running';
    this.startedAt = this.o.clock.now();
    this.opened = 0;
    this.exited = new Promise((resolve) => {
      let done = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (done) return;
        done = true;
        resolve({ code, signal });
        this.onExit(child, code, signal);
      };
      child.once('error', (err) => {
        this.lastError = err.message;
        finish(null, null);
      });
      child.once('close', finish);
    });
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (l) => this.onOutput(child, l));
    }
    this.o.logger.info({ group: this.o.id, pid: child.pid, dbs: this.dbCount }, 'litestream started');
  }

  private onOutput(child: ChildProcess, text: string): void {
    if (text.trim().length === 0) return;
    const line = parseLitestreamLine(text);
    const guild = line.db === undefined ? undefined : this.o.guildOf(line.db);
    this.o.logger[effectiveLevel(line)]({ group: this.o.id, ...(guild ? { guild } : {}), ...line.fields, ...(line.error ? { error: line.error } : {}) }, `litestream: ${line.msg}`);
    if (line.level === 'error') this.lastError = line.error ?? line.msg;
    if (line.msg === 'initialized db' && child === this.child) {
      this.opened++;
      this.lastOpenedAt = this.o.clock.now();
      this.onOpened?.();
    }
    if (isEmfile(line) && !this.emfileSeen && child === this.child) {
      this.emfileSeen = true;
      this.o.logger.error({ group: this.o.id, dbs: this.dbCount, pid: child.pid }, 'litestream ran out of file descriptors: stopping it (raise the fd limit or lower the open-guild cap); it restarts after a backoff');
      // SIGTERM still lets it sync what it can; the exit is handled as an 'emfile' restart.
      child.kill('SIGTERM');
      // Out of descriptors it may not manage to shut down at all: do not wait long.
      const killTimer = setTimeout(() => child.kill('SIGKILL'), Math.min(this.o.stopTimeoutMs, EMFILE_KILL_AFTER_MS));
      killTimer.unref();
      child.once('close', () => clearTimeout(killTimer));
    }
    this.o.onLine(line);
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    if (this.stopRequested) return;
    // Unplanned: a crash, a kill from outside, or our own emfile stop.
    this.child = undefined;
    this.enterBackoff(this.emfileSeen ? 'emfile' : 'crash', code, signal);
  }

  private enterBackoff(reason: 'crash' | 'emfile', code: number | null, signal: NodeJS.Signals | null): void {
    const now = this.o.clock.now();
    if (now - this.startedAt >= this.o.stableAfterMs) this.attempt = 0;
    this.attempt++;
    this.crashes++;
    this.crashTimes = [...this.crashTimes.filter((t) => now - t < CRASH_WINDOW_MS), now];
    metrics.litestreamRestarts.inc({ reason });
    const delay = backoffDelay(reason === 'emfile' ? this.o.emfileBackoff : this.o.backoff, this.attempt);
    this.state = reason === 'emfile' ? 'emfile' : 'backoff';
    this.o.logger.error({ group: this.o.id, code, signal, attempt: this.attempt, retryInMs: delay, lastError: this.lastError }, `litestream stopped unexpectedly (${reason}); restarting after backoff`);
    this.clearRestart();
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.serial(async () => {
        if (this.state !== 'backoff' && this.state !== 'emfile') return;
        if (this.configText === undefined) {
          this.state = 'stopped';
          return;
        }
        await this.spawnProcess();
      }).catch((err: unknown) => this.o.logger.error({ err, group: this.o.id }, 'litestream restart failed'));
    }, delay);
  }

  private clearRestart(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
  }

  /**
   * Wait until every database of the process has been opened and has begun its first sync, so
   * a SIGTERM flushes them all (bounded by stopTimeoutMs: a process that never gets there is
   * stopped anyway, and its stop is not counted as a flush).
   */
  private async untilFirstSync(child: ChildProcess): Promise<boolean> {
    const deadline = this.o.clock.now() + this.o.stopTimeoutMs;
    let exited = false;
    void this.exited?.then(() => {
      exited = true;
      this.onOpened?.();
    });
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.onOpened = undefined;
          resolve();
        }, Math.max(0, ms));
        this.onOpened = () => {
          clearTimeout(t);
          this.onOpened = undefined;
          resolve();
        };
      });
    while (this.opened < this.dbCount && !exited && child === this.child && this.o.clock.now() < deadline) await sleep(deadline - this.o.clock.now());
    if (this.opened < this.dbCount) return false;
    const wait = this.lastOpenedAt + this.o.firstSyncMs - this.o.clock.now();
    if (wait > 0 && !exited) await new Promise((r) => setTimeout(r, wait));
    return true;
  }

  /** SIGTERM the running process and wait for it (SIGKILL after stopTimeoutMs). */
  private async stopProcess(): Promise<StopOutcome> {
    const child = this.child;
    if (!child || this.state !== 'running' || !this.exited) return { wasRunning: false, clean: false, signalledAt: this.o.clock.wallNow() };
    this.stopRequested = true;
    this.state = 'stopping';
    const synced = await this.untilFirstSync(child);
    const signalledAt = this.o.clock.wallNow();
    const emfile = this.emfileSeen;
    child.kill('SIGTERM');
    const killTimer = setTimeout(
      () => {
        this.o.logger.warn({ group: this.o.id, pid: child.pid }, 'litestream did not stop in time; killing it');
        child.kill('SIGKILL');
      },
      emfile ? Math.min(this.o.stopTimeoutMs, EMFILE_KILL_AFTER_MS) : this.o.stopTimeoutMs,
    );
    const { code, signal } = await this.exited;
    clearTimeout(killTimer);
    this.child = undefined;
    this.state = 'stopped';
    return { wasRunning: true, clean: synced && code === 0 && signal === null && !emfile, signalledAt, emfile };
  }
}
