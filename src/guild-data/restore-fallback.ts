// When a replica's latest state cannot be restored (Litestream fails, or the file it produces
// fails quick_check — upstream v0.3.13 has an open report of exactly that, litestream#582), the
// state at an earlier WAL index of the same generation may still be sound. Falling back to it
// loses the writes after that index — unless every event applied since is still in this pod's
// replay buffer, in which case the replay after the restore applies them again and nothing is
// lost. This file decides which indexes qualify; restore.ts runs them. Pure: no I/O.

/** One line of `litestream wal`: a WAL segment in the replica. */
export interface WalSegment {
  readonly generation: string;
  readonly index: number;
  readonly offset: number;
  /** Wall ms the segment was written (Litestream prints whole seconds). */
  readonly createdMs: number;
}

/** One line of `litestream snapshots`. */
export interface SnapshotInfo {
  readonly generation: string;
  readonly index: number;
  readonly createdMs: number;
}

export interface FallbackCandidate {
  readonly generation: string;
  readonly index: number;
  /** The newest write this state can hold was shipped no later than this (wall ms). */
  readonly upToMs: number;
}

/**
 * Parse `litestream wal` (or `snapshots`) output: a header line, then whitespace-separated columns
 * ending in an RFC 3339 time. Lines that do not parse are skipped (Litestream's own log lines).
 */
export function parseWalList(text: readonly string[]): WalSegment[] {
  const out: WalSegment[] = [];
  for (const line of text) {
    const m = /^\S+\s+([0-9a-f]{16})\s+(\d+)\s+(\d+)\s+\d+\s+(\S+)\s*$/.exec(line.trim());
    if (!m) continue;
    const createdMs = Date.parse(m[4] as string);
    if (Number.isNaN(createdMs)) continue;
    out.push({ generation: m[1] as string, index: Number(m[2]), offset: Number(m[3]), createdMs });
  }
  return out;
}

export function parseSnapshotList(text: readonly string[]): SnapshotInfo[] {
  const out: SnapshotInfo[] = [];
  for (const line of text) {
    const m = /^\S+\s+([0-9a-f]{16})\s+(\d+)\s+\d+\s+(\S+)\s*$/.exec(line.trim());
    if (!m) continue;
    const createdMs = Date.parse(m[3] as string);
    if (Number.isNaN(createdMs)) continue;
    out.push({ generation: m[1] as string, index: Number(m[2]), createdMs });
  }
  return out;
}

/**
 * Earlier restore points to try, newest first: the indexes below the newest one of the generation
 * Litestream restores by default (the one updated last), down to its oldest snapshot, keeping only
 * those whose writes reach `coveredSinceMs` — the wall time from which the replay buffer holds
 * every event, with `marginMs` for events that arrived before but were applied after it. An empty
 * list means no lossless fallback exists: the restore must fail loudly.
 */
export function fallbackCandidates(segments: readonly WalSegment[], snapshots: readonly SnapshotInfo[], coveredSinceMs: number, marginMs = 5000): FallbackCandidate[] {
  if (segments.length === 0) return [];
  const updated = new Map<string, number>();
  for (const s of segments) updated.set(s.generation, Math.max(updated.get(s.generation) ?? 0, s.createdMs));
  for (const s of snapshots) updated.set(s.generation, Math.max(updated.get(s.generation) ?? 0, s.createdMs));
  const generation = [...updated].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? 1 : -1))[0]![0];
  const snapIndexes = snapshots.filter((s) => s.generation === generation).map((s) => s.index);
  if (snapIndexes.length === 0) return [];
  const oldestSnapshot = Math.min(...snapIndexes);
  const newestAt = new Map<number, number>();
  for (const s of segments) if (s.generation === generation) newestAt.set(s.index, Math.max(newestAt.get(s.index) ?? 0, s.createdMs));
  const indexes = [...newestAt.keys()].sort((a, b) => b - a);
  const out: FallbackCandidate[] = [];
  for (const index of indexes.slice(1)) {
    if (index < oldestSnapshot) break;
    const upToMs = newestAt.get(index) as number;
    if (upToMs < coveredSinceMs + marginMs) break; // older ones reach back even less far
    out.push({ generation, index, upToMs });
  }
  return out;
}
