// Says in the log when the event loop stood still long enough to put leases at risk. A gateway's
// renewals, deadlines and fences all run on this one thread: a stall of a second at a 2 s TTL
// is a lost lease, and the log should say so next to the "lease lost" lines it causes.
// (nodejs_eventloop_lag_seconds from prom-client's default metrics has the distribution.)
import type { Logger } from '../log.js';

export interface StallWatch {
  stop(): void;
}

/** Warn when a tick `everyMs` apart comes more than `warnAfterMs` late. */
export function watchStalls(logger: Logger, o: { warnAfterMs: number; everyMs?: number; now?: () => number }): StallWatch {
  const every = o.everyMs ?? 100;
  const now = o.now ?? (() => performance.now());
  let expected = now() + every;
  const t = setInterval(() => {
    const at = now();
    const lateMs = at - expected;
    expected = at + every;
    if (lateMs >= o.warnAfterMs) logger.warn({ stalledMs: Math.round(lateMs) }, 'event loop stalled');
  }, every);
  t.unref();
  return { stop: () => clearInterval(t) };
}
