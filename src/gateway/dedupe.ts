// Dedupe keys from an event's own payload (DESIGN §8): the same event seen by two pods, or
// replayed after a failover or handoff, gets the same key, so it is applied at most once per
// guild database and its side effects carry the same nonce.
import { createHash } from 'node:crypto';

export interface Dispatch {
  readonly t: string;
  readonly d: unknown;
}

type Obj = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');
const obj = (v: unknown): Obj => (v !== null && typeof v === 'object' ? (v as Obj) : {});

/** The guild an event belongs to, if any. */
export function guildOf(e: Dispatch): string | undefined {
  const d = obj(e.d);
  if (e.t === 'GUILD_CREATE' || e.t === 'GUILD_UPDATE' || e.t === 'GUILD_DELETE') return str(d['id']) || undefined;
  return str(d['guild_id']) || undefined;
}

/**
 * The event's identity. Events with an id of their own (messages, interactions) use it; others
 * use a composite of the fields that make them distinct, and as a last resort a hash of the
 * payload (identical payloads are then the same event, which is what dedupe wants).
 */
export function dedupeKey(e: Dispatch): string {
  const d = obj(e.d);
  switch (e.t) {
    case 'MESSAGE_CREATE':
      return `msg:${str(d['id'])}`;
    case 'INTERACTION_CREATE':
      return `int:${str(d['id'])}`;
    case 'MESSAGE_UPDATE':
      return `msgupd:${str(d['id'])}:${str(d['edited_timestamp'])}`;
    case 'MESSAGE_DELETE':
      return `msgdel:${str(d['id'])}`;
    case 'GUILD_MEMBER_ADD':
      return `join:${str(d['guild_id'])}:${str(obj(d['user'])['id'])}:${str(d['joined_at'])}`;
    case 'GUILD_MEMBER_REMOVE':
      return `leave:${str(d['guild_id'])}:${str(obj(d['user'])['id'])}:${hash(d)}`;
    case 'GUILD_DELETE':
      return `gdel:${str(d['id'])}:${d['unavailable'] === true ? 'outage' : 'removed'}`;
    default:
      return `${e.t.toLowerCase()}:${hash(d)}`;
  }
}

function hash(v: unknown): string {
  return createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 24);
}

/** Nonce for a side effect of an event: stable across pods and replays, ≤ 25 chars (Discord's limit). */
export function nonceFor(dedupe: string, effectIndex: number): string {
  return createHash('sha256').update(`${dedupe}#${effectIndex}`).digest('base64url').slice(0, 25);
}
