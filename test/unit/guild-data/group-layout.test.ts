import { describe, expect, it } from 'vitest';
import { GroupLayout, guildHash } from '../../../src/guild-data/group-layout.js';

const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => String(1_000_000_000_000_000n + BigInt(from + i) * 4_194_304n));

describe('group layout', () => {
  it('hashes a guild id the same way every time', () => {
    expect(guildHash('123456789012345678')).toBe(guildHash('123456789012345678'));
    expect(guildHash('1')).not.toBe(guildHash('2'));
  });

  it.each([50, 4, 2])('keeps every group at or under the size limit (%i) and every guild in exactly one group', (size) => {
    const layout = new GroupLayout(size);
    const all = ids(1000);
    for (const g of all) {
      layout.add(g);
      // After every single addition, not just at the end: a split can leave a half oversized.
      expect(layout.members(layout.group(g) as string).length).toBeLessThanOrEqual(size);
    }
    const groups = layout.groups();
    expect(groups.length).toBeGreaterThanOrEqual(1000 / size);
    expect(groups.filter((g) => layout.members(g).length > size)).toEqual([]);
    const seen = groups.flatMap((g) => layout.members(g));
    expect(seen.sort()).toEqual([...all].sort());
    for (const g of all) expect(layout.members(layout.group(g) as string)).toContain(g);
  });

  it('a new guild changes one group, or splits one group in two', () => {
    const layout = new GroupLayout(8);
    for (const g of ids(40)) layout.add(g);
    for (const g of ids(40, 40)) {
      const before = new Map(layout.groups().map((x) => [x, new Set(layout.members(x))]));
      const change = layout.add(g);
      if (change.removed.length === 0) expect(change.changed).toEqual([layout.group(g)]);
      else {
        expect(change.removed).toHaveLength(1);
        expect(change.changed.length).toBeGreaterThanOrEqual(2);
        // The new groups hold exactly the old group's members plus the new guild.
        const halves = change.changed.flatMap((x) => layout.members(x)).sort();
        expect(halves).toEqual([...(before.get(change.removed[0] as string) ?? []), g].sort());
      }
      // Groups not named in the change kept their members.
      for (const [x, members] of before) if (![...change.changed, ...change.removed].includes(x)) expect(new Set(layout.members(x))).toEqual(members);
    }
  });

  it('sibling groups merge only well below the limit, so churn at the boundary does not flap', () => {
    const layout = new GroupLayout(8);
    const all = ids(9);
    for (const g of all) layout.add(g);
    expect(layout.groups().length).toBeGreaterThan(1);
    // One guild leaving and coming back around the split point changes one group each time.
    const last = all[8] as string;
    expect(layout.remove(last).removed).toEqual([]);
    expect(layout.add(last).removed).toEqual([]);
    for (const g of all) layout.remove(g);
    expect(layout.groups()).toEqual([]);
    for (const g of all.slice(0, 2)) layout.add(g);
    expect(layout.groups()).toHaveLength(1);
  });

  it('adding a guild twice changes nothing; removing an unknown guild changes nothing', () => {
    const layout = new GroupLayout(4);
    layout.add('1');
    expect(layout.add('1')).toEqual({ changed: [], removed: [] });
    expect(layout.remove('2')).toEqual({ changed: [], removed: [] });
  });
});
