// Create-message nonces with `enforce_nonce`: a repeat from the same author within the window
// returns the first message instead of posting again (DESIGN §8a). The first message is held
// here, not looked up in the message store, whose oldest messages may be forgotten sooner.
import type { Clock } from '../../clock.js';
import { Fifo } from '../fifo.js';

export class NonceStore<M> {
  private readonly seen = new Map<string, { message: M; at: number }>();
  private readonly order = new Fifo<{ key: string; at: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly windowMs: number,
  ) {}

  lookup(authorId: string, nonce: string): M | undefined {
    this.prune();
    return this.seen.get(`${authorId}:${nonce}`)?.message;
  }

  remember(authorId: string, nonce: string, message: M): void {
    const key = `${authorId}:${nonce}`;
    const at = this.clock.now();
    this.seen.set(key, { message, at });
    this.order.push({ key, at });
  }

  private prune(): void {
    const cutoff = this.clock.now() - this.windowMs;
    for (let e = this.order.peek(); e !== undefined && e.at <= cutoff; e = this.order.peek()) {
      this.order.shift();
      // A key remembered again later is kept for its later time.
      if (this.seen.get(e.key)?.at === e.at) this.seen.delete(e.key);
    }
  }
}
