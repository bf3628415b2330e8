// Reads lh:events from the last id seen. Detects gaps — entries trimmed before they were read,
// or a stream that was deleted or recreated (a wiped Redis) — and asks for a full reconcile.
import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import type { ClusterEvent, ClusterEventType } from './types.js';
import { CLUSTER_EVENT_TYPES } from './types.js';

const TYPES = new Set<string>(CLUSTER_EVENT_TYPES);

export function parseEvent(id: string, fields: string[]): ClusterEvent | undefined {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i] as string] = fields[i + 1] as string;
  const type = f['type'];
  if (!type || !TYPES.has(type)) return undefined;
  const epoch = f['epoch'] && /^\d{1,15}$/.test(f['epoch']) ? Number(f['epoch']) : undefined;
  return { id, type: type as ClusterEventType, guild: f['guild'] ?? '', owner: f['owner'] ?? '', epoch, from: f['from'] || undefined };
}

/** Compare stream ids "ms-seq". */
export function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am !== bm ? am - bm : as - bs;
}

export interface StreamHandlers {
  /** A batch of events in order. */
  onEvents(events: ClusterEvent[]): void | Promise<void>;
  /** Entries were missed: the consumer must do a full reconcile (SCAN) now. */
  onGap(reason: string): void | Promise<void>;
}

/**
 * A consumer of lh:events on its own (blocking) connection. Call start() after the first full
 * reconcile; it begins at the stream's current end so nothing between is missed (the reconcile
 * read happened after `position()` was taken).
 */
export class EventStreamReader {
  private lastId = '0-0';
  private entriesAdded = -1;
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly handlers: StreamHandlers,
    private readonly logger: Logger,
    private readonly blockMs = 1000,
  ) {}

  /** The stream's last id now ('0-0' if empty): take it before a reconcile, then start from it. */
  async position(): Promise<string> {
    const info = await this.info();
    return info?.lastId ?? '0-0';
  }

  start(fromId: string): void {
    this.lastId = fromId;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.redis.disconnect();
    await this.loop?.catch(() => undefined);
  }

  private async info(): Promise<{ lastId: string; entriesAdded: number; maxDeletedId: string; firstId: string | undefined } | undefined> {
    try {
      const raw = (await this.redis.call('XINFO', 'STREAM', this.key)) as unknown[];
      const m = new Map<string, unknown>();
      for (let i = 0; i + 1 < raw.length; i += 2) m.set(String(raw[i]), raw[i + 1]);
      const first = m.get('first-entry');
      const firstId = Array.isArray(first) && first.length > 0 ? String(first[0]) : undefined;
      return { lastId: String(m.get('last-generated-id') ?? '0-0'), entriesAdded: Number(m.get('entries-added') ?? 0), maxDeletedId: String(m.get('max-deleted-entry-id') ?? '0-0'), firstId };
    } catch (err) {
      if (/no such key/i.test(String(err))) return undefined;
      throw err;
    }
  }

  /** Gap check: trimmed past our position, or the stream vanished / was recreated. */
  private async checkGap(): Promise<string | undefined> {
    const info = await this.info();
    if (!info) {
      const hadStream = this.entriesAdded > 0;
      this.entriesAdded = 0;
      return hadStream ? 'stream deleted' : undefined;
    }
    const prev = this.entriesAdded;
    this.entriesAdded = info.entriesAdded;
    if (prev >= 0 && info.entriesAdded < prev) return 'stream recreated';
    if (compareIds(info.maxDeletedId, this.lastId) > 0) return 'entries trimmed before they were read';
    // Our last entry is gone and the oldest one left is newer: entries may have been trimmed
    // unread (at worst a needless reconcile).
    if (info.firstId !== undefined && this.lastId !== '0-0' && compareIds(info.firstId, this.lastId) > 0) return 'entries trimmed before they were read';
    if (compareIds(info.lastId, this.lastId) < 0) return 'stream recreated';
    return undefined;
  }

  private async run(): Promise<void> {
    let backoff = 100;
    while (this.running) {
      try {
        const gap = await this.checkGap();
        if (gap) {
          this.logger.warn({ reason: gap }, 'event stream gap: full reconcile');
          const info = await this.info();
          this.lastId = info?.lastId ?? '0-0';
          this.entriesAdded = info?.entriesAdded ?? 0;
          await this.handlers.onGap(gap);
          continue;
        }
        const res = (await this.redis.xread('COUNT', 1000, 'BLOCK', this.blockMs, 'STREAMS', this.key, this.lastId)) as [string, [string, string[]][]][] | null;
        const entries = res?.[0]?.[1] ?? [];
        if (entries.length === 0) continue;
        const events: ClusterEvent[] = [];
        for (const [id, fields] of entries) {
          this.lastId = id;
          const e = parseEvent(id, fields);
          if (e) events.push(e);
          else this.logger.warn({ id, fields }, 'ignoring malformed lh:events entry');
        }
        await this.handlers.onEvents(events);
        backoff = 100;
      } catch (err) {
        if (!this.running) return;
        this.logger.warn({ err }, 'event stream read failed; retrying');
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }
}
