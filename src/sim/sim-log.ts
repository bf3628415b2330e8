// The stand-in's run log: bounded in-memory pages of dispatch, effect and interaction records,
// listeners for in-process waiters, and an optional JSON-lines file that keeps everything.
import { createWriteStream, type WriteStream } from 'node:fs';
import type { DispatchRecord, EffectRecord, InteractionRecord, Page } from './records.js';

export type RecordKind = 'dispatch' | 'effect' | 'interaction';
interface ByKind {
  dispatch: DispatchRecord;
  effect: EffectRecord;
  interaction: InteractionRecord;
}

/** Records numbered from 1; the oldest half is dropped when the capacity is passed. */
class RecordPages<T> {
  private items: T[] = [];
  private first = 1;

  constructor(private readonly capacity: number) {}

  get nextIndex(): number {
    return this.first + this.items.length;
  }

  append(item: T): void {
    this.items.push(item);
    if (this.items.length > this.capacity) {
      const drop = Math.ceil(this.capacity / 2);
      this.items.splice(0, drop);
      this.first += drop;
    }
  }

  get(index: number): T | undefined {
    return this.items[index - this.first];
  }

  page(after: number, limit: number): Page<T> {
    const start = Math.max(0, after + 1 - this.first);
    const records = this.items.slice(start, start + limit);
    const next = records.length > 0 ? this.first + start + records.length - 1 : Math.max(after, this.first - 1);
    return { records, next, oldest: this.first };
  }

  all(): T[] {
    return this.items.slice();
  }
}

export class SimLog {
  private readonly dispatchPages: RecordPages<DispatchRecord>;
  private readonly effectPages: RecordPages<EffectRecord>;
  private readonly interactionPages: RecordPages<InteractionRecord>;
  private readonly listeners: { [K in RecordKind]: Set<(r: ByKind[K]) => void> } = { dispatch: new Set(), effect: new Set(), interaction: new Set() };
  private file: WriteStream | undefined;
  private pending: string[] = [];
  private pendingBytes = 0;
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(capacity: number, logFile?: string) {
    this.dispatchPages = new RecordPages(capacity);
    this.effectPages = new RecordPages(Math.max(1000, Math.floor(capacity / 5)));
    this.interactionPages = new RecordPages(Math.max(1000, Math.floor(capacity / 5)));
    if (logFile !== undefined) this.file = createWriteStream(logFile, { flags: 'a' });
  }

  get nextDispatchSeq(): number {
    return this.dispatchPages.nextIndex;
  }
  get nextEffectN(): number {
    return this.effectPages.nextIndex;
  }
  get nextInteractionN(): number {
    return this.interactionPages.nextIndex;
  }

  addDispatch(r: DispatchRecord): void {
    this.dispatchPages.append(r);
    this.emit('dispatch', r);
  }

  addEffect(r: EffectRecord): void {
    this.effectPages.append(r);
    this.emit('effect', r);
  }

  addInteraction(r: InteractionRecord): void {
    this.interactionPages.append(r);
    this.emit('interaction', r);
  }

  /** An interaction record changed (answered, followed up): tell listeners, append its new state to the file. */
  interactionChanged(r: InteractionRecord): void {
    this.emit('interaction', r);
  }

  dispatches(after = 0, limit = Number.MAX_SAFE_INTEGER): DispatchRecord[] {
    return this.dispatchPages.page(after, limit).records;
  }
  effects(after = 0, limit = Number.MAX_SAFE_INTEGER): EffectRecord[] {
    return this.effectPages.page(after, limit).records;
  }
  /** Current state of each interaction (records change as answers and follow-ups arrive). */
  interactions(after = 0, limit = Number.MAX_SAFE_INTEGER): InteractionRecord[] {
    return this.interactionPages.page(after, limit).records.map((r) => ({ ...r }));
  }
  interaction(n: number): InteractionRecord | undefined {
    return this.interactionPages.get(n);
  }

  page(kind: RecordKind, after: number, limit: number): Page<unknown> {
    if (kind === 'dispatch') return this.dispatchPages.page(after, limit);
    if (kind === 'effect') return this.effectPages.page(after, limit);
    const p = this.interactionPages.page(after, limit);
    return { ...p, records: p.records.map((r) => ({ ...r })) };
  }

  /** Listen to new records (and changed interaction records); returns the unsubscribe. */
  on<K extends RecordKind>(kind: K, fn: (r: ByKind[K]) => void): () => void {
    const set = this.listeners[kind] as Set<(r: ByKind[K]) => void>;
    set.add(fn);
    return () => set.delete(fn);
  }

  /**
   * Resolves with the first record (already logged or yet to come) that matches, or rejects
   * after `timeoutMs` — how in-process tests wait without sleeping.
   */
  waitFor<K extends RecordKind>(kind: K, match: (r: ByKind[K]) => boolean, timeoutMs = 10_000): Promise<ByKind[K]> {
    const existing = (kind === 'dispatch' ? this.dispatchPages.all() : kind === 'effect' ? this.effectPages.all() : this.interactionPages.all()) as ByKind[K][];
    // Interaction records are live objects; waiters get a snapshot.
    const snapshot = (r: ByKind[K]): ByKind[K] => (kind === 'interaction' ? { ...r } : r);
    const hit = existing.find(match);
    if (hit !== undefined) return Promise.resolve(snapshot(hit));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no ${kind} record matched within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on(kind, (r) => {
        if (!match(r)) return;
        clearTimeout(timer);
        off();
        resolve(snapshot(r));
      });
    });
  }

  private emit<K extends RecordKind>(kind: K, r: ByKind[K]): void {
    if (this.file !== undefined) this.write(kind, r);
    for (const fn of this.listeners[kind] as Set<(r: ByKind[K]) => void>) fn(r);
  }

  // Lines are batched: one write per 64 KiB or per 20 ms keeps the file cheap at 20k dispatches/s.
  private write(kind: RecordKind, r: object): void {
    const line = `${JSON.stringify({ kind, ...r })}\n`;
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= 65_536) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), 20);
  }

  private flush(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length === 0 || this.file === undefined) return;
    this.file.write(this.pending.join(''));
    this.pending = [];
    this.pendingBytes = 0;
  }

  async close(): Promise<void> {
    this.flush();
    const file = this.file;
    this.file = undefined;
    if (file !== undefined) await new Promise<void>((resolve) => file.end(() => resolve()));
  }
}
