import { describe, expect, it } from 'vitest';
import { dataSource } from '../../src/gateway/data-source.js';

describe('where an acquired guild gets its data', () => {
  it('a handoff copy wins over everything', () => {
    expect(dataSource({ epoch: 5, hasCopy: true, localEpoch: 5, stoppedHereAt: 4 })).toBe('handoff');
  });

  it('our own file of the same epoch is reused', () => {
    expect(dataSource({ epoch: 5, hasCopy: false, localEpoch: 5, stoppedHereAt: undefined })).toBe('local');
  });

  it('our own file of the epoch just below is reused only when this process stopped the guild there', () => {
    // A deadline passed while the event loop was starved, and we claimed it again: nobody else
    // owned it in between, so the file is newer than any replica.
    expect(dataSource({ epoch: 5, hasCopy: false, localEpoch: 4, stoppedHereAt: 4 })).toBe('local');
    // A file an earlier process left behind (OS crash: its last commits may be missing).
    expect(dataSource({ epoch: 5, hasCopy: false, localEpoch: 4, stoppedHereAt: undefined })).toBe('replica');
    // We stopped at 3, someone else owned 4: their writes are only in the replica.
    expect(dataSource({ epoch: 5, hasCopy: false, localEpoch: 3, stoppedHereAt: 3 })).toBe('replica');
    // A file newer than what we stopped (cannot be ours to trust).
    expect(dataSource({ epoch: 5, hasCopy: false, localEpoch: 4, stoppedHereAt: 3 })).toBe('replica');
  });

  it('no readable local file means the replica', () => {
    expect(dataSource({ epoch: 1, hasCopy: false, localEpoch: undefined, stoppedHereAt: undefined })).toBe('replica');
    expect(dataSource({ epoch: 7, hasCopy: false, localEpoch: undefined, stoppedHereAt: 6 })).toBe('replica');
  });
});
