// The one logger: JSON lines on stdout (pino). Child loggers carry pod, guild and epoch.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: LevelWithSilent; role?: string; pod?: string } = {}): Logger {
  const base: Record<string, unknown> = { pid: process.pid };
  if (opts.role !== undefined) base['role'] = opts.role;
  if (opts.pod !== undefined) base['pod'] = opts.pod;
  return pino({
    level: opts.level ?? 'info',
    base,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}

/** A logger that writes nothing, for unit tests and library defaults. */
export const silentLogger: Logger = pino({ level: 'silent' });
