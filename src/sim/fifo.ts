// A first-in-first-out queue with O(1) access to its oldest entry. Expiring the oldest entries of
// a Map by iterating it from the front is quadratic in V8 (deleted entries stay in the table as
// holes that every new iteration walks again until a rehash), so the stores that forget their
// oldest entries keep their order here and only look entries up in the Map.

export class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head] as T;
    this.head += 1;
    // Compact once the consumed prefix is half the array: amortised O(1).
    if (this.head > 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
