// Writes to Postgres that may lag but must not be lost (log entries, releases, data epochs,
// copies of pins and cordons): queued in order and retried with backoff while Postgres is
// away. Enqueueing never blocks, so lease renewal never waits on Postgres.
import type { Logger } from '../log.js';
import { metrics } from '../metrics.js';

interface Job {
  readonly what: string;
  readonly run: () => Promise<unknown>;
}

export class RetryQueue {
  private readonly jobs: Job[] = [];
  private running = false;
  private stopped = false;
  private backoffMs = 100;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly logger: Logger,
    private readonly maxBackoffMs = 5000,
  ) {}

  get depth(): number {
    return this.jobs.length;
  }

  /** Queue a write; it runs after every earlier one, retried until it succeeds. */
  enqueue(what: string, run: () => Promise<unknown>): void {
    this.jobs.push({ what, run });
    metrics.storeQueueDepth.set(this.jobs.length);
    if (!this.timer) void this.drain();
  }

  /** Resolves once the queue is empty (tests, shutdown). */
  idle(): Promise<void> {
    if (this.jobs.length === 0 && !this.running) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.jobs.length > 0) this.logger.error({ pending: this.jobs.length, first: this.jobs[0]?.what }, 'store queue stopped with writes pending');
  }

  private async drain(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      while (this.jobs.length > 0 && !this.stopped) {
        const job = this.jobs[0] as Job;
        try {
          await job.run();
          this.jobs.shift();
          metrics.storeQueueDepth.set(this.jobs.length);
          this.backoffMs = 100;
        } catch (err) {
          this.logger.warn({ err, what: job.what, pending: this.jobs.length, retryInMs: this.backoffMs }, 'postgres write failed; will retry');
          this.timer = setTimeout(() => {
            this.timer = undefined;
            void this.drain();
          }, this.backoffMs);
          this.timer.unref();
          this.backoffMs = Math.min(this.backoffMs * 2, this.maxBackoffMs);
          return;
        }
      }
    } finally {
      this.running = false;
    }
    if (this.jobs.length === 0) for (const w of this.idleWaiters.splice(0)) w();
  }
}
