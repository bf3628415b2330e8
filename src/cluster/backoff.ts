// Per-key doubling backoff (pure): after a failure a key waits `firstMs`, each further failure
// twice as long, up to `maxMs`; a success forgets it. The ownership loop keeps one for claims
// whose data could not be put in place and one for adopts that failed.

export class Backoffs {
  private readonly waits = new Map<string, { at: number; ms: number }>();

  constructor(
    private readonly firstMs: number,
    private readonly maxMs: number,
  ) {}

  /** Note a failure at `now`; returns how long the key now waits. */
  failed(key: string, now: number): number {
    const prev = this.waits.get(key)?.ms;
    const ms = prev === undefined ? this.firstMs : Math.min(prev * 2, this.maxMs);
    this.waits.set(key, { at: now + ms, ms });
    return ms;
  }

  /** True while the key's wait has not ended. */
  waiting(key: string, now: number): boolean {
    return (this.waits.get(key)?.at ?? Number.NEGATIVE_INFINITY) > now;
  }

  succeeded(key: string): void {
    this.waits.delete(key);
  }

  /** Forget keys whose wait ended before `before` (bounds the map when keys keep changing). */
  prune(before: number): void {
    for (const [k, v] of this.waits) if (v.at < before) this.waits.delete(k);
  }

  get size(): number {
    return this.waits.size;
  }
}
