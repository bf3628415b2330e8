// Which open guild databases to close: idle ones past the idle time, then the least recently
// used beyond the open-file cap. Pure: the sweeper feeds it times from the injected Clock.

export interface OpenGuildUse {
  readonly guildId: string;
  /** Monotonic ms of the last use. */
  readonly lastUsedAt: number;
  /** In use right now (an operation in flight): never closed. */
  readonly busy: boolean;
}

export interface IdlePolicy {
  /** Close a guild unused for this long (ms). */
  readonly idleMs: number;
  /** Keep at most this many open; the least recently used go first. */
  readonly maxOpen: number;
}

export function pickToClose(open: readonly OpenGuildUse[], now: number, policy: IdlePolicy): string[] {
  const idle = new Set<string>();
  for (const g of open) if (!g.busy && now - g.lastUsedAt >= policy.idleMs) idle.add(g.guildId);
  let excess = open.length - idle.size - policy.maxOpen;
  if (excess > 0) {
    const lru = open.filter((g) => !g.busy && !idle.has(g.guildId)).sort((a, b) => a.lastUsedAt - b.lastUsedAt);
    for (const g of lru) {
      if (excess <= 0) break;
      idle.add(g.guildId);
      excess--;
    }
  }
  return [...idle];
}
