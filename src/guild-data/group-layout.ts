// How replicated guilds are spread over Litestream processes. Litestream v0.3 reads its config
// only at start, and a start costs about 4.5 ms of CPU and 1.7 MB of peak memory per database in
// the process (measured on v0.3.13), so the layout is chosen to restart as few databases as
// possible when guilds come and go:
// - arrivals go to a small "open" group (a quarter of the size limit); once it is full the next
//   arrival opens a new one, so a burst of claims restarts only small, young processes and never
//   the big settled ones;
// - a guild that leaves is only marked released: it stays in its process's config (Litestream
//   keeps shipping its last writes; nothing writes the file any more) until that process
//   restarts for another reason, until maintenance detaches it, or until its file is about to
//   be replaced (detach);
// - when the pod is quiet, maintenance merges the two smallest groups (one restart) or
//   restarts the group holding the most released guilds, one step at a time.
// Every guild is in at most one group, so two processes never replicate one database. Pure.

export interface LayoutChange {
  /** Groups whose config changed (created, grown, shrunk); their process must restart. */
  readonly changed: readonly string[];
  /** Groups that no longer exist; their process must stop. */
  readonly removed: readonly string[];
}

export const NO_CHANGE: LayoutChange = { changed: [], removed: [] };

export interface MaintenanceStep extends LayoutChange {
  readonly kind: 'merge' | 'detach-released';
  /** Guilds that left a process's config (released ones dropped). */
  readonly detached: readonly string[];
}

interface Group {
  readonly members: Set<string>;
  /** Members that were released but are still in the running config, with the time they left. */
  readonly released: Map<string, number>;
}

export class GroupLayout {
  private readonly groupsById = new Map<string, Group>();
  private readonly groupOf = new Map<string, string>();
  private open: string | undefined;
  private nextId = 1;
  readonly arrivalSize: number;

  constructor(
    readonly maxSize: number,
    arrivalSize?: number,
  ) {
    if (!Number.isInteger(maxSize) || maxSize < 2) throw new Error('group size must be an integer of at least 2');
    this.arrivalSize = Math.min(maxSize, Math.max(2, arrivalSize ?? Math.ceil(maxSize / 4)));
  }

  /** The group a guild's file is in (also while released and not yet detached). */
  group(guildId: string): string | undefined {
    return this.groupOf.get(guildId);
  }

  /** Every guild in the group's config, released ones included. */
  members(group: string): string[] {
    return [...(this.groupsById.get(group)?.members ?? [])];
  }

  /** Members still served here (not released). */
  live(group: string): string[] {
    const g = this.groupsById.get(group);
    return g ? [...g.members].filter((m) => !g.released.has(m)) : [];
  }

  isReleased(guildId: string): boolean {
    const id = this.groupOf.get(guildId);
    return id !== undefined && (this.groupsById.get(id)?.released.has(guildId) ?? false);
  }

  groups(): string[] {
    return [...this.groupsById.keys()];
  }

  /**
   * Replicate a guild. A released guild still in a config is taken back with no restart; a new
   * one joins the open group (a new group when that is full).
   */
  add(guildId: string): LayoutChange {
    const cur = this.groupOf.get(guildId);
    if (cur !== undefined) {
      this.groupsById.get(cur)?.released.delete(guildId);
      return NO_CHANGE;
    }
    let id = this.open;
    if (id === undefined || (this.groupsById.get(id)?.members.size ?? Infinity) >= this.arrivalSize) {
      id = `g${this.nextId++}`;
      this.groupsById.set(id, { members: new Set(), released: new Map() });
      this.open = id;
    }
    (this.groupsById.get(id) as Group).members.add(guildId);
    this.groupOf.set(guildId, id);
    return { changed: [id], removed: [] };
  }

  /** The guild is no longer served here; its group keeps it in the config for now (no restart). */
  release(guildId: string, now: number): boolean {
    const id = this.groupOf.get(guildId);
    if (id === undefined) return false;
    const g = this.groupsById.get(id) as Group;
    if (!g.released.has(guildId)) g.released.set(guildId, now);
    return true;
  }

  /** Take the guild out of its group's config now (its process must restart without it). */
  detach(guildId: string): LayoutChange {
    const id = this.groupOf.get(guildId);
    if (id === undefined) return NO_CHANGE;
    this.drop(guildId);
    return this.afterShrink(id);
  }

  /**
   * The group's process is restarting anyway: drop its released members from the config too.
   * Returns the guilds dropped.
   */
  dropReleased(group: string): string[] {
    const g = this.groupsById.get(group);
    if (!g) return [];
    const dropped = [...g.released.keys()];
    for (const m of dropped) this.drop(m);
    if (g.members.size === 0) this.deleteGroup(group);
    return dropped;
  }

  /**
   * One maintenance step for a quiet pod, or undefined when nothing is worth a restart:
   * detach the released guilds of the group holding the most of them when they make up a
   * quarter of it or waited `releasedAfterMs`; else merge the two smallest groups (by live
   * members) when both fit in one. The open group takes part like any other.
   */
  maintenance(now: number, releasedAfterMs: number): MaintenanceStep | undefined {
    let worst: { id: string; n: number } | undefined;
    for (const [id, g] of this.groupsById) {
      if (g.released.size === 0) continue;
      const oldest = Math.min(...g.released.values());
      const due = g.released.size * 4 >= g.members.size || now - oldest >= releasedAfterMs;
      if (due && (!worst || g.released.size > worst.n)) worst = { id, n: g.released.size };
    }
    if (worst) {
      const detached = this.dropReleased(worst.id);
      const gone = !this.groupsById.has(worst.id);
      return { kind: 'detach-released', detached, changed: gone ? [] : [worst.id], removed: gone ? [worst.id] : [] };
    }
    const bySize = [...this.groupsById.keys()].map((id) => ({ id, n: this.live(id).length })).sort((a, b) => a.n - b.n || (a.id < b.id ? -1 : 1));
    const [a, b] = bySize;
    // Every group has a live member here (one with none was due above).
    if (!a || !b || a.n + b.n > this.maxSize) return undefined;
    // The bigger one's process restarts with both; the smaller one's stops first.
    const detached = [...this.dropReleased(a.id), ...this.dropReleased(b.id)];
    const moving = this.members(a.id);
    this.deleteGroup(a.id);
    const into = this.groupsById.get(b.id) as Group;
    for (const m of moving) {
      into.members.add(m);
      this.groupOf.set(m, b.id);
    }
    return { kind: 'merge', detached, changed: [b.id], removed: [a.id] };
  }

  private drop(guildId: string): void {
    const id = this.groupOf.get(guildId);
    if (id === undefined) return;
    this.groupOf.delete(guildId);
    const g = this.groupsById.get(id);
    g?.members.delete(guildId);
    g?.released.delete(guildId);
  }

  private afterShrink(id: string): LayoutChange {
    const g = this.groupsById.get(id);
    if (g && g.members.size === 0) {
      this.deleteGroup(id);
      return { changed: [], removed: [id] };
    }
    return { changed: [id], removed: [] };
  }

  private deleteGroup(id: string): void {
    this.groupsById.delete(id);
    if (this.open === id) this.open = undefined;
  }
}
