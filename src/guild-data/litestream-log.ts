// Litestream v0.3.13's output lines, parsed: JSON lines (logging.type: json, as the template
// sets) and the plain text lines it prints before a config is read. Pure.

export type LitestreamLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LitestreamLine {
  /** Wall-clock ms from the line's own timestamp, when it has one. */
  readonly time: number | undefined;
  readonly level: LitestreamLevel;
  readonly msg: string;
  /** Path of the database the line is about. */
  readonly db: string | undefined;
  readonly error: string | undefined;
  /** The line's other fields (position, replica, elapsed, …). */
  readonly fields: Readonly<Record<string, unknown>>;
}

const LEVELS: Record<string, LitestreamLevel> = { DEBUG: 'debug', INFO: 'info', WARN: 'warn', WARNING: 'warn', ERROR: 'error' };
const RESERVED = new Set(['time', 'level', 'msg', 'db', 'error']);

export function parseLitestreamLine(line: string): LitestreamLine {
  const text = line.trim();
  if (text.startsWith('{')) {
    try {
      const o = JSON.parse(text) as Record<string, unknown>;
      const fields: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(o)) if (!RESERVED.has(k)) fields[k] = v;
      const time = typeof o['time'] === 'string' ? Date.parse(o['time']) : Number.NaN;
      return {
        time: Number.isNaN(time) ? undefined : time,
        level: LEVELS[String(o['level']).toUpperCase()] ?? 'info',
        msg: typeof o['msg'] === 'string' ? o['msg'] : text,
        db: typeof o['db'] === 'string' ? o['db'] : typeof o['path'] === 'string' && o['msg'] === 'initialized db' ? o['path'] : undefined,
        error: typeof o['error'] === 'string' ? o['error'] : undefined,
        fields,
      };
    } catch {
      // not JSON after all: fall through to text
    }
  }
  // Text handler: `2026/11/23 09:02:50 ERROR failed to run error="no matching backups found"`.
  const m = /^(?:\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d )?(DEBUG|INFO|WARN|WARNING|ERROR) (.*)$/.exec(text);
  if (m) {
    const rest = m[2] as string;
    const err = /error="((?:[^"\\]|\\.)*)"/.exec(rest) ?? /error=(\S+)/.exec(rest);
    return { time: undefined, level: LEVELS[m[1] as string] ?? 'info', msg: rest, db: undefined, error: err?.[1], fields: {} };
  }
  // Anything else (a Go panic, a flag error) is worth seeing at warn.
  return { time: undefined, level: /panic|fatal|error/i.test(text) ? 'error' : 'warn', msg: text, db: undefined, error: undefined, fields: {} };
}

/** The process ran out of file descriptors: it will not recover by itself, it only spins. */
export function isEmfile(l: LitestreamLine): boolean {
  return /too many open files/i.test(l.error ?? '') || /too many open files/i.test(l.msg);
}

export type ReplicaEventKind = 'segment-start' | 'segment-done' | 'snapshot-start' | 'snapshot-done' | 'new-generation';

export interface ReplicaEvent {
  readonly kind: ReplicaEventKind;
  readonly db: string;
  readonly time: number | undefined;
  readonly position: string | undefined;
}

const EVENT_OF: Record<string, ReplicaEventKind> = {
  'write wal segment': 'segment-start',
  'wal segment written': 'segment-done',
  'write snapshot': 'snapshot-start',
  'snapshot written': 'snapshot-done',
  'sync: new generation': 'new-generation',
};

/** The replication progress a line reports, if any. */
export function replicaEvent(l: LitestreamLine): ReplicaEvent | undefined {
  const kind = EVENT_OF[l.msg];
  if (!kind || l.db === undefined) return undefined;
  const position = l.fields['position'];
  return { kind, db: l.db, time: l.time, position: typeof position === 'string' ? position : undefined };
}

/** Routine per-sync lines are logged at debug; the rest keep Litestream's level. */
export function effectiveLevel(l: LitestreamLine): LitestreamLevel {
  const kind = EVENT_OF[l.msg];
  if (l.level === 'info' && (kind === 'segment-start' || kind === 'segment-done' || kind === 'snapshot-start' || l.msg === 'initialized db' || l.msg === 'replicating to')) return 'debug';
  return l.level;
}
