import { describe, expect, it } from 'vitest';
import { SimLog } from '../../../src/sim/sim-log.js';
import type { DispatchRecord } from '../../../src/sim/records.js';

const dispatch = (seq: number): DispatchRecord => ({ seq, at: seq, shard: 0, type: 'MESSAGE_CREATE', guildId: 'g', key: `msg:${seq}`, sessions: ['s'] });

describe('the run log', () => {
  it('pages records after an index and says where to read on', () => {
    const log = new SimLog(100);
    for (let i = 1; i <= 10; i++) log.addDispatch(dispatch(log.nextDispatchSeq));
    const p1 = log.page('dispatch', 0, 4);
    expect(p1.records.map((r) => (r as DispatchRecord).seq)).toEqual([1, 2, 3, 4]);
    expect(p1.next).toBe(4);
    const p2 = log.page('dispatch', p1.next, 100);
    expect(p2.records.map((r) => (r as DispatchRecord).seq)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(log.page('dispatch', 10, 5)).toEqual({ records: [], next: 10, oldest: 1 });
  });

  it('drops the oldest half past its capacity and pages on from the oldest it holds', () => {
    const log = new SimLog(10);
    for (let i = 1; i <= 11; i++) log.addDispatch(dispatch(log.nextDispatchSeq));
    const p = log.page('dispatch', 0, 100);
    expect(p.oldest).toBe(6);
    expect(p.records.map((r) => (r as DispatchRecord).seq)).toEqual([6, 7, 8, 9, 10, 11]);
    expect(log.nextDispatchSeq).toBe(12);
  });

  it('resolves a waiter with a record already logged or one logged later', async () => {
    const log = new SimLog(100);
    log.addDispatch(dispatch(1));
    await expect(log.waitFor('dispatch', (r) => r.seq === 1)).resolves.toMatchObject({ seq: 1 });
    const later = log.waitFor('dispatch', (r) => r.seq === 2, 1000);
    log.addDispatch(dispatch(2));
    await expect(later).resolves.toMatchObject({ key: 'msg:2' });
    await expect(log.waitFor('dispatch', (r) => r.seq === 3, 20)).rejects.toThrow(/no dispatch record/);
  });
});
