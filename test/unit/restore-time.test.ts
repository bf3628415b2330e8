import { describe, expect, it } from 'vitest';
import { parseRestoreTime } from '../../src/admin/restore.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');

describe('admin restore --at', () => {
  it('takes ISO 8601 times with a zone', () => {
    expect(parseRestoreTime('2026-11-23T10:15:00Z', NOW).toISOString()).toBe('2026-11-23T10:15:00.000Z');
    expect(parseRestoreTime('2026-11-23T11:15:30.250+01:00', NOW).toISOString()).toBe('2026-11-23T10:15:30.250Z');
  });
  it('takes a duration ago in s, m, h or d', () => {
    expect(parseRestoreTime('90s', NOW).getTime()).toBe(NOW - 90_000);
    expect(parseRestoreTime('15m ago', NOW).getTime()).toBe(NOW - 15 * 60_000);
    expect(parseRestoreTime('-2h', NOW).getTime()).toBe(NOW - 2 * 3_600_000);
    expect(parseRestoreTime('1.5d', NOW).getTime()).toBe(NOW - 1.5 * 86_400_000);
  });
  it('refuses times without a zone, garbage, impossible dates and the future', () => {
    expect(() => parseRestoreTime('2026-11-23T10:15:00', NOW)).toThrow(/is not a time/);
    expect(() => parseRestoreTime('yesterday', NOW)).toThrow(/is not a time/);
    expect(() => parseRestoreTime('2026-13-45T99:99:00Z', NOW)).toThrow(/not a valid date/);
    expect(() => parseRestoreTime('2026-11-24T00:00:00Z', NOW)).toThrow(/in the future/);
    expect(() => parseRestoreTime('', NOW)).toThrow(/is not a time/);
  });
});
