import { describe, expect, it } from 'vitest';
import { GatewaySession } from '../../../src/sim/gateway/session.js';

const session = (capacity: number) => new GatewaySession('s1', 'tok', 0, 1, 513, 0, '', 'test', {}, capacity);

describe('a gateway session', () => {
  it('splices its own sequence into a dispatch serialised once', () => {
    const a = session(10);
    const b = session(10);
    b.nextFrame('READY', '{}');
    const json = JSON.stringify({ id: '1', content: 'x' });
    expect(JSON.parse(a.nextFrame('MESSAGE_CREATE', json))).toEqual({ t: 'MESSAGE_CREATE', s: 1, op: 0, d: { id: '1', content: 'x' } });
    expect(JSON.parse(b.nextFrame('MESSAGE_CREATE', json))).toMatchObject({ s: 2 });
  });

  it('replays exactly the frames after a sequence, and cannot once they fell out of its ring', () => {
    const s = session(4);
    const frames = [1, 2, 3, 4, 5, 6].map((i) => s.nextFrame('X', String(i)));
    expect(s.oldestSeq).toBe(3);
    expect(s.framesAfter(6)).toEqual([]);
    expect(s.framesAfter(3)).toEqual(frames.slice(3));
    expect(s.framesAfter(2)).toEqual(frames.slice(2));
    expect(s.framesAfter(1)).toBeUndefined();
  });
});
