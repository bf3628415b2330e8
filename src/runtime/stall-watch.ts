// Says in the log when the event loop stood still long enough to put leases at risk. A gateway's
// renewals, deadlines and fences all run on this one thread: a stall of a second at a 2 s TTL
// is a lost lease, and the log should say so next to the "lease lost" lines it causes.
// (nodejs_eventloop_lag_seconds from prom-client's default metrics has the distribution.)
import { loadavg } from 'node:os';
import type { Logger } from '../log.js';

export interface StallWatch {
  stop(): void;
}

/** Warn when a tick `everyMs` apart comes more than `warnAfterMs` late. */
export function watchStalls(logger: Logger, o: { warnAfterMs: number; everyMs?: number; now?: () => number }): StallWatch {
  const every = o.everyMs ?? 100;
  const now = o.now ?? (() => performance.now());
  let expected = now() + every;
  let cpu = process.cpuUsage();
  const t = setInterval(() => {
    const at = now();
    const lateMs = at - expected;
    expected = at + every;
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    // cpuMs near stalledMs: this process was busy (a long synchronous task); far below it: it
    // waited without yielding (a synchronous sleep or I/O), or the machine gave it no CPU.
    if (lateMs >= o.warnAfterMs) logger.warn({ stalledMs: Math.round(lateMs), cpuMs: Math.round((used.user + used.system) / 1000), load1: Number(loadavg()[0]?.toFixed(1)) }, 'event loop stalled');
  }, every);
  t.unref();
  return { stop: () => clearInterval(t) };
}
