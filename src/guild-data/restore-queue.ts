// Restores waiting to run (DESIGN §5): bounded concurrency, guilds with buffered events first,
// failed restores retried with backoff until they succeed or the claim is withdrawn.
import { FencedError } from '../cluster/errors.js';
import { errorMessage } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { backoffDelay, type BackoffPolicy } from './backoff.js';

export interface RestoreQueueOptions {
  /** Restores at once (default 8): each is a Litestream process plus disk and network I/O. */
  readonly concurrency?: number;
  readonly run: (guildId: string, epoch: number) => Promise<unknown>;
  readonly backoff?: BackoffPolicy;
  /** Give up after this many attempts (default: never; the claim is withdrawn with cancel()). */
  readonly maxAttempts?: number;
  readonly logger?: Logger;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

interface Job {
  readonly guildId: string;
  epoch: number;
  priority: number;
  readonly seq: number;
  attempts: number;
  state: 'queued' | 'running' | 'retrying';
  waiters: Waiter[];
  /** A newer epoch asked for while this one ran: run again for it afterwards. */
  next?: { epoch: number; waiters: Waiter[] };
  timer?: NodeJS.Timeout;
}

export interface RestoreQueueStats {
  readonly queued: number;
  readonly running: number;
  readonly retrying: number;
}

export class RestoreQueue {
  private readonly jobs = new Map<string, Job>();
  private running = 0;
  private seq = 0;
  private readonly concurrency: number;
  private readonly backoff: BackoffPolicy;
  private readonly logger: Logger;
  private stopped = false;

  constructor(private readonly o: RestoreQueueOptions) {
    this.concurrency = Math.max(1, o.concurrency ?? 8);
    this.backoff = o.backoff ?? { initialMs: 500, maxMs: 30_000, jitter: 0.2 };
    this.logger = o.logger ?? silentLogger;
  }

  /**
   * Restore `guildId` for `epoch`; resolves once it succeeded. A second request for the same
   * guild joins the first (raising its priority); one for a newer epoch supersedes it.
   */
  request(guildId: string, epoch: number, priority = 0): Promise<void> {
    if (this.stopped) return Promise.reject(new Error('restore queue stopped'));
    return new Promise<void>((resolve, reject) => {
      const waiter = { resolve, reject };
      const job = this.jobs.get(guildId);
      if (!job) {
        this.jobs.set(guildId, { guildId, epoch, priority, seq: this.seq++, attempts: 0, state: 'queued', waiters: [waiter] });
        this.pump();
        return;
      }
      const latest = job.next?.epoch ?? job.epoch;
      if (epoch < latest) {
        reject(new FencedError(guildId, epoch, 'stale_epoch', `restore of guild ${guildId} at epoch ${epoch} superseded by epoch ${latest}`));
        return;
      }
      job.priority = Math.max(job.priority, priority);
      if (epoch === latest) (job.next ?? job).waiters.push(waiter);
      else if (job.state === 'running') {
        // The running attempt is for an older epoch: let it finish, then restore for this one.
        if (job.next) rejectAll(job.next.waiters, guildId, job.next.epoch, epoch);
        job.next = { epoch, waiters: [waiter] };
      } else {
        rejectAll(job.waiters, guildId, job.epoch, epoch);
        job.epoch = epoch;
        job.waiters = [waiter];
        job.attempts = 0;
        if (job.timer) clearTimeout(job.timer);
        job.timer = undefined;
        job.state = 'queued';
      }
      this.pump();
    });
  }

  /** Raise a waiting restore's priority (events for the guild are being buffered). */
  prioritize(guildId: string, priority: number): void {
    const job = this.jobs.get(guildId);
    if (job) job.priority = Math.max(job.priority, priority);
  }

  /** Withdraw a guild's restore (lease lost, released): its waiters get `reason`. */
  cancel(guildId: string, reason: Error): void {
    const job = this.jobs.get(guildId);
    if (!job) return;
    this.jobs.delete(guildId);
    if (job.timer) clearTimeout(job.timer);
    for (const w of [...job.waiters, ...(job.next?.waiters ?? [])]) w.reject(reason);
  }

  stats(): RestoreQueueStats {
    let queued = 0;
    let retrying = 0;
    for (const j of this.jobs.values()) {
      if (j.state === 'queued') queued++;
      else if (j.state === 'retrying') retrying++;
    }
    return { queued, running: this.running, retrying };
  }

  stop(): void {
    this.stopped = true;
    for (const g of [...this.jobs.keys()]) this.cancel(g, new Error('restore queue stopped'));
  }

  private pump(): void {
    while (this.running < this.concurrency) {
      const job = this.pick();
      if (!job) return;
      void this.runJob(job);
    }
  }

  /** Highest priority first; among equals, the oldest request. */
  private pick(): Job | undefined {
    let best: Job | undefined;
    for (const j of this.jobs.values()) {
      if (j.state !== 'queued') continue;
      if (!best || j.priority > best.priority || (j.priority === best.priority && j.seq < best.seq)) best = j;
    }
    return best;
  }

  private async runJob(job: Job): Promise<void> {
    job.state = 'running';
    job.attempts++;
    this.running++;
    const epoch = job.epoch;
    let error: unknown;
    try {
      await this.o.run(job.guildId, epoch);
    } catch (err) {
      error = err;
    }
    this.running--;
    if (this.jobs.get(job.guildId) !== job) {
      // Cancelled while running: its waiters were answered already.
      this.pump();
      return;
    }
    if (error === undefined) {
      for (const w of job.waiters) w.resolve();
      if (job.next) {
        job.epoch = job.next.epoch;
        job.waiters = job.next.waiters;
        job.next = undefined;
        job.attempts = 0;
        job.state = 'queued';
      } else this.jobs.delete(job.guildId);
    } else if (job.next) {
      rejectAll(job.waiters, job.guildId, epoch, job.next.epoch);
      job.epoch = job.next.epoch;
      job.waiters = job.next.waiters;
      job.next = undefined;
      job.attempts = 0;
      job.state = 'queued';
    } else if (job.attempts >= (this.o.maxAttempts ?? Infinity)) {
      this.jobs.delete(job.guildId);
      for (const w of job.waiters) w.reject(error);
    } else {
      const delay = backoffDelay(this.backoff, job.attempts);
      this.logger.warn({ guild: job.guildId, epoch, attempt: job.attempts, retryInMs: delay, err: errorMessage(error) }, 'restore failed; retrying');
      job.state = 'retrying';
      job.timer = setTimeout(() => {
        job.timer = undefined;
        if (this.jobs.get(job.guildId) !== job) return;
        job.state = 'queued';
        this.pump();
      }, delay);
      job.timer.unref();
    }
    this.pump();
  }
}

function rejectAll(waiters: readonly Waiter[], guildId: string, epoch: number, newer: number): void {
  for (const w of waiters) w.reject(new FencedError(guildId, epoch, 'stale_epoch', `restore of guild ${guildId} at epoch ${epoch} superseded by epoch ${newer}`));
}
