// Replication lag per guild: the age of the oldest committed write not yet known to be in the
// replica. Writes are noted at commit; Litestream's log says when a replica sync that read the
// shadow WAL at time T finished, which confirms writes committed up to T. Pure (wall-clock ms in,
// seconds out).
//
// Litestream copies the real WAL into its shadow WAL on its monitor tick and ships the shadow WAL
// on its sync tick, so a write committed between the two is confirmed one sync early: the lag is
// under-reported by at most one monitor interval, never stuck (every write is followed by a
// sync that starts after it).

/** Commit times kept per guild; past this only the newest write time is kept. */
const MAX_PENDING = 64;

interface GuildLag {
  /** Commit times not yet confirmed, ascending. */
  pending: number[];
  lastWriteAt: number;
  confirmedUpTo: number;
}

export class LagTracker {
  private readonly guilds = new Map<string, GuildLag>();

  noteWrite(guildId: string, committedAt: number): void {
    let g = this.guilds.get(guildId);
    if (!g) {
      g = { pending: [], lastWriteAt: 0, confirmedUpTo: 0 };
      this.guilds.set(guildId, g);
    }
    if (g.pending.length < MAX_PENDING) g.pending.push(committedAt);
    g.lastWriteAt = Math.max(g.lastWriteAt, committedAt);
  }

  /** A replica sync that read the shadow WAL at `readAt` completed for the guild. */
  noteReplicated(guildId: string, readAt: number): void {
    const g = this.guilds.get(guildId);
    if (!g) return;
    g.confirmedUpTo = Math.max(g.confirmedUpTo, readAt);
    let i = 0;
    while (i < g.pending.length && (g.pending[i] as number) <= g.confirmedUpTo) i++;
    if (i > 0) g.pending.splice(0, i);
    if (g.pending.length === 0 && g.lastWriteAt <= g.confirmedUpTo) this.guilds.delete(guildId);
  }

  /** Stop tracking a guild (it left this pod; its file keeps whatever was not confirmed). */
  forget(guildId: string): void {
    this.guilds.delete(guildId);
  }

  isReplicated(guildId: string): boolean {
    return !this.guilds.has(guildId);
  }

  /** Commit time of the oldest unconfirmed write (an upper bound on its age when writes were dropped). */
  oldestUnreplicated(guildId: string): number | undefined {
    const g = this.guilds.get(guildId);
    if (!g) return undefined;
    return g.pending[0] ?? g.confirmedUpTo;
  }

  /** The pod's lag in seconds: the oldest unconfirmed write over all tracked guilds. */
  lagSeconds(now: number): number {
    let oldest = Infinity;
    for (const id of this.guilds.keys()) oldest = Math.min(oldest, this.oldestUnreplicated(id) as number);
    return oldest === Infinity ? 0 : Math.max(0, now - oldest) / 1000;
  }

  trackedGuilds(): number {
    return this.guilds.size;
  }
}
