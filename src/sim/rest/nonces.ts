// Create-message nonces with `enforce_nonce`: a repeat from the same author within the window
// returns the first message instead of posting again (DESIGN §8a).
import type { Clock } from '../../clock.js';

export class NonceStore {
  private readonly seen = new Map<string, { messageId: string; at: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly windowMs: number,
  ) {}

  lookup(authorId: string, nonce: string): string | undefined {
    this.prune();
    return this.seen.get(`${authorId}:${nonce}`)?.messageId;
  }

  remember(authorId: string, nonce: string, messageId: string): void {
    this.seen.set(`${authorId}:${nonce}`, { messageId, at: this.clock.now() });
  }

  // Insertion order is time order, so expired entries are all at the front.
  private prune(): void {
    const cutoff = this.clock.now() - this.windowMs;
    for (const [k, v] of this.seen) {
      if (v.at > cutoff) break;
      this.seen.delete(k);
    }
  }
}
