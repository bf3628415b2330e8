// Create-message nonces with `enforce_nonce`: a repeat from the same author within the window
// returns the first message instead of posting again (DESIGN §8a). The first message is held
// here, not looked up in the message store, whose oldest messages may be forgotten sooner.
import type { Clock } from '../../clock.js';

export class NonceStore<M> {
  private readonly seen = new Map<string, { message: M; at: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly windowMs: number,
  ) {}

  lookup(authorId: string, nonce: string): M | undefined {
    this.prune();
    return this.seen.get(`${authorId}:${nonce}`)?.message;
  }

  remember(authorId: string, nonce: string, message: M): void {
    this.seen.set(`${authorId}:${nonce}`, { message, at: this.clock.now() });
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
