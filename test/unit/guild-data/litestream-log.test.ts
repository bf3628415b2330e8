import { describe, expect, it } from 'vitest';
import { effectiveLevel, isEmfile, parseLitestreamLine, replicaEvent } from '../../../src/guild-data/litestream-log.js';

describe('litestream log lines', () => {
  it('parses a JSON line with its time, level, database and fields', () => {
    const l = parseLitestreamLine('{"time":"2026-11-23T09:02:49.986175910Z","level":"INFO","msg":"write wal segment","db":"/d/guilds/123.sqlite3","replica":"file","position":"aa5c/00000000:0"}');
    expect(l).toMatchObject({ level: 'info', msg: 'write wal segment', db: '/d/guilds/123.sqlite3', fields: { replica: 'file', position: 'aa5c/00000000:0' } });
    expect(l.time).toBe(Date.parse('2026-11-23T09:02:49.986Z'));
    expect(replicaEvent(l)).toEqual({ kind: 'segment-start', db: '/d/guilds/123.sqlite3', time: l.time, position: 'aa5c/00000000:0' });
    expect(effectiveLevel(l)).toBe('debug');
  });

  it('parses the text lines printed before a config is read', () => {
    const l = parseLitestreamLine('2026/11/23 09:02:50 ERROR failed to run error="no matching backups found"');
    expect(l).toMatchObject({ level: 'error', error: 'no matching backups found' });
  });

  it('reports a finished snapshot as a replica event and keeps it at info', () => {
    const l = parseLitestreamLine('{"time":"2026-11-23T09:02:49.98Z","level":"INFO","msg":"snapshot written","db":"/d/guilds/9.sqlite3","replica":"file","position":"g/00000000:1","elapsed":"1ms","sz":364}');
    expect(replicaEvent(l)?.kind).toBe('snapshot-done');
    expect(effectiveLevel(l)).toBe('info');
  });

  it('recognises running out of file descriptors', () => {
    expect(isEmfile(parseLitestreamLine('{"level":"ERROR","msg":"sync error","db":"/x/1.sqlite3","error":"unable to open database file: too many open files"}'))).toBe(true);
    expect(isEmfile(parseLitestreamLine('{"level":"ERROR","msg":"sync error","error":"disk I/O error"}'))).toBe(false);
  });

  it('keeps anything unparseable, at warn or error', () => {
    expect(parseLitestreamLine('panic: runtime error: index out of range').level).toBe('error');
    expect(parseLitestreamLine('goroutine 1 [running]:').level).toBe('warn');
  });
});
