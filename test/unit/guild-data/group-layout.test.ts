import { describe, expect, it } from 'vitest';
import { GroupLayout, NO_CHANGE } from '../../../src/guild-data/group-layout.js';

const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => String(1_000_000_000_000_000n + BigInt(from + i) * 4_194_304n));

/** Every guild in exactly one group, and the layout's answers agree with each other. */
function checkConsistent(layout: GroupLayout, expected: readonly string[]): void {
  const seen = layout.groups().flatMap((g) => layout.members(g));
  expect([...seen].sort()).toEqual([...expected].sort());
  for (const g of expected) expect(layout.members(layout.group(g) as string)).toContain(g);
  for (const g of layout.groups()) expect(layout.members(g).length).toBeLessThanOrEqual(layout.maxSize);
}

describe('group layout', () => {
  it('arrivals fill a small open group, then open a new one: each arrival changes exactly one group, never a full one', () => {
    const layout = new GroupLayout(200);
    expect(layout.arrivalSize).toBe(50);
    const all = ids(1000);
    const changedSizes: number[] = [];
    for (const g of all) {
      const change = layout.add(g);
      expect(change.removed).toEqual([]);
      expect(change.changed).toEqual([layout.group(g)]);
      changedSizes.push(layout.members(change.changed[0] as string).length);
    }
    // A burst of 1,000 restarts only processes of at most 50 databases.
    expect(Math.max(...changedSizes)).toBe(50);
    expect(layout.groups()).toHaveLength(20);
    checkConsistent(layout, all);
  });

  it('a released guild stays in its group (no restart) and comes back with no restart', () => {
    const layout = new GroupLayout(8);
    for (const g of ids(6)) layout.add(g);
    const g = ids(1)[0] as string;
    const group = layout.group(g);
    expect(layout.release(g, 1000)).toBe(true);
    expect(layout.group(g)).toBe(group);
    expect(layout.isReleased(g)).toBe(true);
    expect(layout.live(group as string)).not.toContain(g);
    expect(layout.add(g)).toEqual(NO_CHANGE);
    expect(layout.isReleased(g)).toBe(false);
    expect(layout.release('42', 1000)).toBe(false);
  });

  it('detach takes a guild out of its group now; the last one out removes the group', () => {
    const layout = new GroupLayout(8);
    const [a, b] = ids(2) as [string, string];
    layout.add(a);
    layout.add(b);
    const group = layout.group(a) as string;
    expect(layout.detach(a)).toEqual({ changed: [group], removed: [] });
    expect(layout.group(a)).toBeUndefined();
    expect(layout.detach(b)).toEqual({ changed: [], removed: [group] });
    expect(layout.groups()).toEqual([]);
    expect(layout.detach(b)).toEqual(NO_CHANGE);
    // A detached guild arrives like a new one.
    expect(layout.add(a).changed).toHaveLength(1);
  });

  it('a group restarting anyway drops its released guilds', () => {
    const layout = new GroupLayout(8);
    const all = ids(2);
    for (const g of all) layout.add(g);
    const group = layout.group(all[0] as string) as string;
    layout.release(all[0] as string, 0);
    expect(layout.dropReleased(group)).toEqual([all[0]]);
    expect(layout.members(group)).toEqual([all[1]]);
    layout.release(all[1] as string, 0);
    expect(layout.dropReleased(group)).toEqual([all[1]]);
    expect(layout.groups()).toEqual([]);
  });

  it('maintenance first drops released guilds (the group with most of them, once due), then merges the two smallest groups while they fit', () => {
    const layout = new GroupLayout(8, 2);
    const all = ids(8);
    for (const g of all) layout.add(g);
    expect(layout.groups()).toHaveLength(4);
    // One released of a group of two is due at once (a quarter or more of the group).
    const gone = all[0] as string;
    layout.release(gone, 0);
    const first = layout.maintenance(1, 60_000);
    expect(first).toMatchObject({ kind: 'detach-released', detached: [gone], changed: [layout.group(all[1] as string)] });
    expect(layout.group(gone)).toBeUndefined();
    // Then merges: smallest first, into the bigger one, until no two fit in one.
    const steps = [];
    for (let s = layout.maintenance(2, 60_000); s; s = layout.maintenance(2, 60_000)) {
      expect(s.kind).toBe('merge');
      expect(s.changed).toHaveLength(1);
      expect(s.removed).toHaveLength(1);
      expect(layout.groups()).not.toContain(s.removed[0]);
      steps.push(s);
    }
    expect(steps.length).toBeGreaterThan(0);
    checkConsistent(layout, all.slice(1));
    expect(layout.groups()).toHaveLength(1);
  });

  it('a released guild in a big group waits for releasedAfterMs before maintenance restarts the group for it', () => {
    const layout = new GroupLayout(120, 50);
    const all = ids(150);
    for (const g of all) layout.add(g);
    // Three groups of 50: two merge into 100, and 100 + 50 no longer fits.
    while (layout.maintenance(0, 60_000)) {
      /* merge down */
    }
    const sizes = layout.groups().map((g) => layout.members(g).length).sort((a, b) => a - b);
    expect(sizes).toEqual([50, 100]);
    const big = layout.groups().find((g) => layout.members(g).length === 100) as string;
    const g = layout.members(big)[0] as string;
    layout.release(g, 1000);
    expect(layout.maintenance(30_000, 60_000)).toBeUndefined();
    expect(layout.maintenance(61_000, 60_000)).toMatchObject({ kind: 'detach-released', detached: [g] });
  });

  it('rejects a size limit below 2', () => {
    expect(() => new GroupLayout(1)).toThrow(/at least 2/);
    expect(() => new GroupLayout(2.5)).toThrow(/integer/);
  });
});
