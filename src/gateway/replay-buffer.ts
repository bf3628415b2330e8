// Every gateway keeps every guild dispatch it received during the last window (TTL +
// replication lag + restore time, DESIGN §4), bounded by bytes. When it claims a guild after a
// failover, or takes one over by handoff, it replays that guild's buffered dispatches after
// restoring: what arrived after the last replicated write is applied, not lost. A guild this
// pod has claimed and is still putting in place is pinned: its dispatches outlive the window
// until it is live (a failover of many guilds can queue restores for longer than the window),
// still within the byte budget.
import type { Clock } from '../clock.js';

export interface BufferedDispatch {
  readonly guildId: string;
  readonly t: string;
  readonly d: unknown;
  /** Monotonic time it arrived. */
  readonly at: number;
  readonly bytes: number;
}

export interface ReplayBufferStats {
  readonly dispatches: number;
  readonly bytes: number;
  readonly evicted: number;
  /** Age of the oldest kept dispatch (ms): how far back a replay can reach right now. */
  readonly reachMs: number;
}

export class ReplayBuffer {
  private readonly queue: BufferedDispatch[] = [];
  private head = 0;
  private bytes = 0;
  private evicted = 0;
  /** Index of each guild's entries in arrival order (positions into `queue`). */
  private readonly byGuild = new Map<string, number[]>();
  private readonly createdAt: number;
  /** Arrival time of the newest dispatch dropped for memory before its window ended. */
  private lastEvictedAt = Number.NEGATIVE_INFINITY;
  /** Pinned guilds → their dispatches that left the window, oldest first. */
  private readonly pinned = new Map<string, BufferedDispatch[]>();

  constructor(
    private readonly clock: Clock,
    private readonly windowMs: number,
    private readonly maxBytes: number,
  ) {
    this.createdAt = clock.now();
  }

  /**
   * Monotonic time since which the buffer holds every dispatch this pod received: a replay
   * recovers anything that arrived from then on. Later than the window's start when the pod is
   * younger than the window or dispatches were dropped for memory.
   */
  completeSince(): number {
    this.trim();
    return Math.max(this.createdAt, this.clock.now() - this.windowMs, this.lastEvictedAt + 1);
  }

  add(guildId: string, t: string, d: unknown, bytes: number): void {
    const pos = this.queue.length;
    this.queue.push({ guildId, t, d, at: this.clock.now(), bytes });
    this.bytes += bytes;
    let list = this.byGuild.get(guildId);
    if (!list) this.byGuild.set(guildId, (list = []));
    list.push(pos);
    this.trim();
  }

  /** The guild's dispatches still in the window (and, pinned, since it was pinned), oldest first. */
  forGuild(guildId: string): BufferedDispatch[] {
    this.trim();
    const out: BufferedDispatch[] = [...(this.pinned.get(guildId) ?? [])];
    for (const pos of this.byGuild.get(guildId) ?? []) if (pos >= this.head) out.push(this.queue[pos] as BufferedDispatch);
    return out;
  }

  /** Keep the guild's dispatches past the window until unpin (this pod is putting it in place). */
  pin(guildId: string): void {
    if (!this.pinned.has(guildId)) this.pinned.set(guildId, []);
  }

  pinnedGuilds(): string[] {
    return [...this.pinned.keys()];
  }

  /** The guild is live (or given up): its dispatches age out with the window again. */
  unpin(guildId: string): void {
    const kept = this.pinned.get(guildId);
    if (!kept) return;
    this.pinned.delete(guildId);
    for (const e of kept) this.bytes -= e.bytes;
  }

  /** Guilds that have buffered dispatches (restores of these go first). */
  guildsWithEvents(): Set<string> {
    this.trim();
    const out = new Set(this.byGuild.keys());
    for (const [g, kept] of this.pinned) if (kept.length > 0) out.add(g);
    return out;
  }

  stats(): ReplayBufferStats {
    this.trim();
    const oldest = this.queue[this.head];
    let pinned = 0;
    for (const kept of this.pinned.values()) pinned += kept.length;
    return { dispatches: this.queue.length - this.head + pinned, bytes: this.bytes, evicted: this.evicted, reachMs: oldest ? this.clock.now() - oldest.at : 0 };
  }

  private trim(): void {
    const cutoff = this.clock.now() - this.windowMs;
    // Over the byte budget, pinned dispatches go first (oldest guild list first): memory wins.
    for (const kept of this.pinned.values()) {
      while (this.bytes > this.maxBytes && kept.length > 0) {
        const e = kept.shift() as BufferedDispatch;
        this.bytes -= e.bytes;
        this.evicted++;
        this.lastEvictedAt = Math.max(this.lastEvictedAt, e.at);
      }
    }
    while (this.head < this.queue.length) {
      const e = this.queue[this.head] as BufferedDispatch;
      const overBudget = this.bytes > this.maxBytes;
      if (e.at >= cutoff && !overBudget) break;
      const kept = overBudget ? undefined : this.pinned.get(e.guildId);
      if (overBudget && e.at >= cutoff) {
        this.evicted++;
        this.lastEvictedAt = e.at;
      }
      if (kept) kept.push(e);
      else this.bytes -= e.bytes;
      this.head++;
      const list = this.byGuild.get(e.guildId);
      if (list) {
        list.shift();
        if (list.length === 0) this.byGuild.delete(e.guildId);
      }
    }
    // Compact once the dead prefix dominates, keeping positions stable for byGuild.
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      const shift = this.head;
      this.queue.splice(0, shift);
      this.head = 0;
      for (const list of this.byGuild.values()) for (let i = 0; i < list.length; i++) list[i] = (list[i] as number) - shift;
    }
  }
}
