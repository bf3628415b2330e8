import { describe, expect, it } from 'vitest';
import { FencedError } from '../../../src/cluster/errors.js';
import { RestoreQueue } from '../../../src/guild-data/restore-queue.js';
import { waitFor } from '../../helpers/services.js';

/** A restore whose outcome the test decides. */
function controlled() {
  const calls: { guildId: string; epoch: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  const run = (guildId: string, epoch: number) => new Promise<void>((resolve, reject) => calls.push({ guildId, epoch, resolve, reject }));
  return { calls, run };
}

describe('restore queue', () => {
  it('runs at most `concurrency` restores at once', async () => {
    const c = controlled();
    const q = new RestoreQueue({ concurrency: 2, run: c.run });
    const done = ['1', '2', '3', '4'].map((g) => q.request(g, 1));
    expect(c.calls.map((x) => x.guildId)).toEqual(['1', '2']);
    c.calls[0]?.resolve();
    await waitFor('third started', () => c.calls.length === 3);
    expect(q.stats()).toEqual({ queued: 1, running: 2, retrying: 0 });
    for (const x of c.calls.slice(1)) x.resolve();
    await waitFor('fourth started', () => c.calls.length === 4);
    c.calls[3]?.resolve();
    await Promise.all(done);
  });

  it('starts guilds with buffered events first, then in request order', async () => {
    const c = controlled();
    const q = new RestoreQueue({ concurrency: 1, run: c.run });
    const all = [q.request('busy-0', 1), q.request('a', 1), q.request('b', 1), q.request('c', 1, 5)];
    q.prioritize('b', 3);
    for (let i = 0; i < 4; i++) {
      await waitFor(`restore ${i}`, () => c.calls.length === i + 1);
      c.calls[i]?.resolve();
    }
    await Promise.all(all);
    expect(c.calls.map((x) => x.guildId)).toEqual(['busy-0', 'c', 'b', 'a']);
  });

  it('retries a failed restore with backoff until it succeeds', async () => {
    const c = controlled();
    const q = new RestoreQueue({ concurrency: 1, run: c.run, backoff: { initialMs: 1, maxMs: 5 } });
    const done = q.request('g', 7);
    c.calls[0]?.reject(new Error('replica unreadable'));
    await waitFor('retry', () => c.calls.length === 2);
    c.calls[1]?.reject(new Error('replica unreadable'));
    await waitFor('retry again', () => c.calls.length === 3);
    c.calls[2]?.resolve();
    await done;
    expect(c.calls.map((x) => x.epoch)).toEqual([7, 7, 7]);
  });

  it('joins a second request for the same guild and epoch', async () => {
    const c = controlled();
    const q = new RestoreQueue({ concurrency: 4, run: c.run });
    const both = Promise.all([q.request('g', 2), q.request('g', 2, 9)]);
    expect(c.calls).toHaveLength(1);
    c.calls[0]?.resolve();
    await both;
  });

  it('a newer epoch supersedes an older one; the older waiters learn they are stale', async () => {
    const c = controlled();
    const q = new RestoreQueue({ concurrency: 1, run: c.run });
    const old = q.request('g', 1);
    const newer = q.request('g', 2); // arrives while epoch 1 runs
    await expect(q.request('g', 1)).rejects.toBeInstanceOf(FencedError);
    c.calls[0]?.resolve();
    await old;
    await waitFor('restore for epoch 2', () => c.calls.length === 2);
    expect(c.calls[1]?.epoch).toBe(2);
    c.calls[1]?.resolve();
    await newer;
  });

  it('a cancelled restore answers its waiters and is not retried', async () => {
    const c = controlled();
    const q = new RestoreQueue({ concurrency: 1, run: c.run, backoff: { initialMs: 1, maxMs: 1 } });
    const p = q.request('g', 1);
    q.cancel('g', new Error('lease lost'));
    await expect(p).rejects.toThrow('lease lost');
    c.calls[0]?.reject(new Error('late failure'));
    const next = q.request('h', 1);
    await waitFor('next guild runs', () => c.calls.length === 2);
    expect(c.calls.map((x) => x.guildId)).toEqual(['g', 'h']);
    c.calls[1]?.resolve();
    await next;
  });
});
