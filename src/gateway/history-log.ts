// Every application of an event is logged with (guild, dedupe key, pod, epoch, time) — the
// record the history checker reads to prove no event was lost or applied by two owners at once
// (DESIGN §10). One JSON line per application, written with a synchronous O_APPEND write so a
// kill -9 right after applying cannot lose the line (it is in the kernel once write returns).
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Application {
  readonly guild: string;
  readonly key: string;
  readonly pod: string;
  readonly epoch: number;
  /**
   * Wall-clock ms of the fence check just before the write committed: the moment it was decided
   * under the lease. A pod paused between that check and this record commits to a copy the next
   * owner does not read; judging it by the record's time would call a valid write stale.
   */
  readonly at: number;
  readonly t: string;
  readonly outcome: 'applied' | 'duplicate' | 'replayed';
  /** Nonces of the messages this application put in the outbox (empty for a duplicate). */
  readonly effects?: readonly string[];
}

export class HistoryLog {
  private fd: number | undefined;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'a');
  }

  write(a: Application): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, `${JSON.stringify(a)}\n`);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
