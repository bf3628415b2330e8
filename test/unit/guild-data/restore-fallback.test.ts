import { describe, expect, it } from 'vitest';
import { fallbackCandidates, parseSnapshotList, parseWalList, type WalSegment } from '../../../src/guild-data/restore-fallback.js';

const T = Date.parse('2026-11-23T11:00:00Z');
const seg = (generation: string, index: number, offset: number, sec: number): WalSegment => ({ generation, index, offset, createdMs: T + sec * 1000 });
const G = 'e3ea349b9b7aa214';
const H = '0123456789abcdef';

describe('litestream list parsing', () => {
  it('reads `litestream wal` and `snapshots` tables and skips anything else', () => {
    const wal = parseWalList([
      'replica  generation        index  offset  size  created',
      'file     e3ea349b9b7aa214  1      0       9673  2026-11-23T11:27:15Z',
      'file     e3ea349b9b7aa214  2      4152    6439  2026-11-23T11:27:16Z',
      'time=2026-11-23T11:27:23Z level=INFO msg="something"',
      'file     nothex!!          1      0       1     2026-11-23T11:27:15Z',
    ]);
    expect(wal).toEqual([
      { generation: G, index: 1, offset: 0, createdMs: Date.parse('2026-11-23T11:27:15Z') },
      { generation: G, index: 2, offset: 4152, createdMs: Date.parse('2026-11-23T11:27:16Z') },
    ]);
    expect(parseSnapshotList(['replica  generation        index  size  created', 'file     e3ea349b9b7aa214  1      5114  2026-11-23T11:27:14Z'])).toEqual([
      { generation: G, index: 1, createdMs: Date.parse('2026-11-23T11:27:14Z') },
    ]);
  });
});

describe('fallback candidates', () => {
  const segments = [seg(G, 1, 0, 10), seg(G, 1, 100, 20), seg(G, 2, 0, 30), seg(G, 2, 100, 40), seg(G, 3, 0, 50), seg(G, 4, 0, 60)];
  const snaps = [{ generation: G, index: 1, createdMs: T + 5000 }];

  it('are the indexes below the newest, newest first, down to the snapshot', () => {
    expect(fallbackCandidates(segments, snaps, T, 0).map((c) => c.index)).toEqual([3, 2, 1]);
    expect(fallbackCandidates(segments, snaps, T, 0)[0]).toEqual({ generation: G, index: 3, upToMs: T + 50_000 });
  });

  it('stop where the replay buffer no longer reaches back (with the margin)', () => {
    expect(fallbackCandidates(segments, snaps, T + 35_000, 5000).map((c) => c.index)).toEqual([3, 2]);
    expect(fallbackCandidates(segments, snaps, T + 46_000, 5000).map((c) => c.index)).toEqual([]);
  });

  it('never go below the oldest snapshot of the generation', () => {
    expect(fallbackCandidates(segments, [{ generation: G, index: 2, createdMs: T + 25_000 }], T, 0).map((c) => c.index)).toEqual([3, 2]);
  });

  it('use the generation Litestream restores by default (the one updated last), and none without a snapshot', () => {
    const two = [...segments, seg(H, 1, 0, 70), seg(H, 2, 0, 80)];
    expect(fallbackCandidates(two, [...snaps, { generation: H, index: 1, createdMs: T + 65_000 }], T, 0)).toEqual([{ generation: H, index: 1, upToMs: T + 70_000 }]);
    expect(fallbackCandidates(two, snaps, T, 0)).toEqual([]);
    expect(fallbackCandidates([], snaps, T, 0)).toEqual([]);
  });
});
