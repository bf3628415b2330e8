import { describe, expect, it } from 'vitest';
import { NONE, stepTarget, type TargetInput, type TargetState } from '../../src/gateway/handoff-machine.js';

function run(inputs: [TargetInput, number][], start: TargetState = NONE) {
  let s = start;
  const actions: string[] = [];
  for (const [input, now] of inputs) {
    const r = stepTarget(s, input, now, 1000);
    s = r.state;
    actions.push(...r.actions.map((a) => a.kind + ('epoch' in a ? `@${a.epoch}` : '') + ('copyId' in a && a.copyId ? `:${a.copyId}` : '')));
  }
  return { state: s, actions };
}

describe('handoff target state machine', () => {
  it('prepare, data, then the move: goes live with the copy', () => {
    const r = run([
      [{ kind: 'prepare', from: 'a', fromEpoch: 3 }, 0],
      [{ kind: 'data', from: 'a', fromEpoch: 3, copyId: 'c1' }, 10],
      [{ kind: 'moved', from: 'a', epoch: 4 }, 20],
    ]);
    expect(r.actions).toEqual(['start_buffering', 'go_live@4:c1']);
    expect(r.state).toEqual({ kind: 'live', epoch: 4 });
  });

  it('the stream entry and the commit call both say "moved": the second is a no-op', () => {
    const r = run([
      [{ kind: 'prepare', from: 'a', fromEpoch: 3 }, 0],
      [{ kind: 'data', from: 'a', fromEpoch: 3, copyId: 'c1' }, 10],
      [{ kind: 'moved', from: 'a', epoch: 4 }, 20],
      [{ kind: 'moved', from: undefined, epoch: 4 }, 21],
    ]);
    expect(r.actions).toEqual(['start_buffering', 'go_live@4:c1']);
  });

  it('a lease that arrives without a copy is restored from the replica instead', () => {
    expect(run([[{ kind: 'prepare', from: 'a', fromEpoch: 3 }, 0], [{ kind: 'moved', from: 'a', epoch: 4 }, 5]]).actions).toEqual(['start_buffering', 'restore_live@4']);
  });

  it('a handoff that stalls is dropped after the timeout, and its copy discarded', () => {
    const r = run([
      [{ kind: 'prepare', from: 'a', fromEpoch: 3 }, 0],
      [{ kind: 'data', from: 'a', fromEpoch: 3, copyId: 'c1' }, 10],
      [{ kind: 'tick' }, 500],
      [{ kind: 'tick' }, 1500],
    ]);
    expect(r.actions).toEqual(['start_buffering', 'discard:c1']);
    expect(r.state).toEqual(NONE);
  });

  it('a second source is rejected while one handoff is in progress; data without prepare is rejected', () => {
    expect(run([[{ kind: 'prepare', from: 'a', fromEpoch: 3 }, 0], [{ kind: 'prepare', from: 'b', fromEpoch: 9 }, 1]]).actions).toEqual(['start_buffering', 'reject']);
    expect(run([[{ kind: 'data', from: 'a', fromEpoch: 3, copyId: 'x' }, 0]]).actions).toEqual(['reject', 'discard:x']);
  });

  it('the source can abort before the move', () => {
    const r = run([[{ kind: 'prepare', from: 'a', fromEpoch: 3 }, 0], [{ kind: 'abort', from: 'a', fromEpoch: 3 }, 1]]);
    expect(r.state).toEqual(NONE);
    expect(r.actions).toEqual(['start_buffering', 'discard']);
  });
});
