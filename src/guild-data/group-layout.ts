// How replicated guilds are spread over Litestream processes: groups are leaves of a binary trie
// over a stable hash of the guild id. A group that grows past the size limit splits in two by
// the next hash bit; two sibling groups that shrink well below it merge. Either way only the
// groups involved change, so one guild's arrival restarts one Litestream process. Pure.

export interface LayoutChange {
  /** Groups whose member set changed (created, grown, shrunk, emptied). */
  readonly changed: readonly string[];
  /** Groups that no longer exist (split or merged away); their process must stop. */
  readonly removed: readonly string[];
}

const MAX_DEPTH = 16;

/** FNV-1a, 32 bits: stable across processes and versions, which a Node hash seed is not. */
export function guildHash(guildId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < guildId.length; i++) {
    h ^= guildId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A group id is `g` followed by the hash bits that lead to it (least significant first). */
const groupId = (bits: string): string => `g${bits}`;

export class GroupLayout {
  /** Leaf prefix (bit string) → member guild ids. */
  private readonly leaves = new Map<string, Set<string>>([['', new Set()]]);
  private readonly groupOf = new Map<string, string>();

  constructor(private readonly maxSize: number) {
    if (maxSize < 2) throw new Error('group size must be at least 2');
  }

  /** The group a guild is in, if it is replicated. */
  group(guildId: string): string | undefined {
    const leaf = this.groupOf.get(guildId);
    return leaf === undefined ? undefined : groupId(leaf);
  }

  members(group: string): string[] {
    return [...(this.leaves.get(group.slice(1)) ?? [])];
  }

  groups(): string[] {
    return [...this.leaves.keys()].filter((k) => (this.leaves.get(k)?.size ?? 0) > 0).map(groupId);
  }

  add(guildId: string): LayoutChange {
    if (this.groupOf.has(guildId)) return { changed: [], removed: [] };
    const h = guildHash(guildId);
    const leaf = this.leafFor(h);
    const set = this.leaves.get(leaf) as Set<string>;
    set.add(guildId);
    this.groupOf.set(guildId, leaf);
    if (set.size <= this.maxSize || leaf.length >= MAX_DEPTH) return { changed: [groupId(leaf)], removed: [] };
    return { changed: this.split(leaf).map(groupId), removed: [groupId(leaf)] };
  }

  /** Split a leaf by the next hash bit, again while a half is still too big; returns the new leaves. */
  private split(leaf: string): string[] {
    const set = this.leaves.get(leaf) as Set<string>;
    this.leaves.delete(leaf);
    const halves: [string, Set<string>][] = [
      [`${leaf}0`, new Set()],
      [`${leaf}1`, new Set()],
    ];
    for (const g of set) {
      const [prefix, members] = halves[(guildHash(g) >>> leaf.length) & 1] as [string, Set<string>];
      members.add(g);
      this.groupOf.set(g, prefix);
    }
    const out: string[] = [];
    for (const [prefix, members] of halves) {
      this.leaves.set(prefix, members);
      // Hash bits can send every member the same way: keep splitting that half.
      if (members.size > this.maxSize && prefix.length < MAX_DEPTH) out.push(...this.split(prefix));
      else out.push(prefix);
    }
    return out;
  }

  remove(guildId: string): LayoutChange {
    const leaf = this.groupOf.get(guildId);
    if (leaf === undefined) return { changed: [], removed: [] };
    this.groupOf.delete(guildId);
    const set = this.leaves.get(leaf) as Set<string>;
    set.delete(guildId);
    if (leaf === '') return { changed: [groupId(leaf)], removed: [] };
    const sibling = `${leaf.slice(0, -1)}${leaf.endsWith('0') ? '1' : '0'}`;
    const sib = this.leaves.get(sibling);
    // Merge only well below the limit (a quarter), so a guild coming and going at the
    // boundary does not split and merge the same processes back and forth.
    if (!sib || set.size + sib.size > Math.floor(this.maxSize / 4)) return { changed: [groupId(leaf)], removed: [] };
    const parent = leaf.slice(0, -1);
    const merged = new Set([...set, ...sib]);
    this.leaves.delete(leaf);
    this.leaves.delete(sibling);
    this.leaves.set(parent, merged);
    for (const g of merged) this.groupOf.set(g, parent);
    return { changed: [groupId(parent)], removed: [groupId(leaf), groupId(sibling)] };
  }

  private leafFor(h: number): string {
    let prefix = '';
    while (!this.leaves.has(prefix)) prefix += String((h >>> prefix.length) & 1);
    return prefix;
  }
}
