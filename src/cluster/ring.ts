// The consistent-hash ring: member ids → virtual-node points, guild id → member. Pure and
// deterministic: every process that has the same members and RingParams computes the same map.
import type { RingParams } from './types.js';

/**
 * Version 1: each member gets `vnodes` points, point i = murmur3_32(utf8(`${podId}#${i}`), 0);
 * a guild hashes to murmur3_32(utf8(guildId), 0) and belongs to the first point at or after it
 * (wrapping). Points with equal values are ordered by member id, so input order never matters.
 * Changing any of this is a new version: pods with different versions refuse to share a ring.
 */
export const DEFAULT_RING_VERSION = '1';
export const RING_HASH = 'murmur3';
/**
 * Points per member. bench/ring.ts at 32 pods and 100k guilds: 400 points give max/mean 1.09 for
 * one set of pod names but 1.11 median (1.17 worst) over 20 others, and a join at 3 pods moves
 * more than 1/(N+1) + 1 %; 2000 points give median 1.06, worst 1.09. Lookups stay ~0.1 µs either
 * way (bucket index); a 32-pod build takes ~45 ms and is cached (placement.ts).
 */
export const DEFAULT_RING_VNODES = 2000;

export function ringParams(vnodes: number = DEFAULT_RING_VNODES, version: string = DEFAULT_RING_VERSION): RingParams {
  return { version, vnodes, hash: RING_HASH };
}

export const DEFAULT_RING_PARAMS: RingParams = ringParams();

/** The string pods put in their member key's `ring` field, e.g. `v1:400:murmur3`. */
export function ringParamsId(params: RingParams): string {
  return `v${params.version}:${params.vnodes}:${params.hash}`;
}

export function sameRingParams(a: RingParams, b: RingParams): boolean {
  return a.version === b.version && a.vnodes === b.vnodes && a.hash === b.hash;
}

/** Why a Ring cannot be built with these parameters, or undefined when it can. */
export function unsupportedRingParams(params: RingParams): string | undefined {
  if (params.version !== DEFAULT_RING_VERSION) return `ring version ${params.version} is not supported (this build knows ${DEFAULT_RING_VERSION})`;
  if (params.hash !== RING_HASH) return `ring hash ${params.hash} is not supported (this build knows ${RING_HASH})`;
  if (!Number.isInteger(params.vnodes) || params.vnodes < 1 || params.vnodes > 65_536) return `ring vnodes ${params.vnodes} is out of range 1..65536`;
  return undefined;
}

export class Ring {
  /** Distinct member ids, sorted. */
  readonly members: readonly string[];
  readonly params: RingParams;
  /** Point values, ascending; `owners[i]` indexes `members` for `points[i]`. */
  private readonly points: Uint32Array;
  private readonly owners: Uint32Array;
  /**
   * `starts[b]` = index of the first point whose top `bits` bits are ≥ b, so a lookup only
   * binary-searches the handful of points in its own bucket (about one per bucket).
   */
  private readonly starts: Uint32Array;
  private readonly shift: number;

  constructor(memberIds: Iterable<string>, params: RingParams) {
    const bad = unsupportedRingParams(params);
    if (bad) throw new RangeError(bad);
    this.params = params;
    this.members = [...new Set(memberIds)].sort();
    if (this.members.length > MAX_MEMBERS) throw new RangeError(`a ring holds at most ${MAX_MEMBERS} members`);
    const n = this.members.length * params.vnodes;
    // Sort (point, member index) pairs packed into one float64 — point * 2^16 + index is exact
    // below 2^53, and sorting a Float64Array is far faster than sorting objects. Members are
    // indexed in sorted-id order, so equal points break ties by member id.
    const packed = new Float64Array(n);
    let k = 0;
    this.members.forEach((id, m) => {
      for (let i = 0; i < params.vnodes; i++) packed[k++] = murmur3(`${id}#${i}`) * MAX_MEMBERS + m;
    });
    packed.sort();
    this.points = new Uint32Array(n);
    this.owners = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const v = packed[i] as number;
      const m = v % MAX_MEMBERS;
      this.points[i] = (v - m) / MAX_MEMBERS;
      this.owners[i] = m;
    }
    const bits = Math.min(16, Math.max(4, Math.ceil(Math.log2(Math.max(n, 1)))));
    this.shift = 32 - bits;
    this.starts = new Uint32Array((1 << bits) + 1);
    let p = 0;
    for (let b = 0; b <= 1 << bits; b++) {
      while (p < n && (this.points[p] as number) >>> this.shift < b) p++;
      this.starts[b] = p;
    }
  }

  get size(): number {
    return this.members.length;
  }

  /** The member that owns this guild id, or undefined on an empty ring. Allocates nothing. */
  lookup(guildId: string): string | undefined {
    const n = this.points.length;
    if (n === 0) return undefined;
    const h = murmur3(guildId);
    const b = h >>> this.shift;
    // First point >= h: inside the bucket, else the first point of a later bucket (`hi`);
    // past the last point the ring wraps to the first.
    let lo = this.starts[b] as number;
    let hi = this.starts[b + 1] as number;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.points[mid] as number) < h) lo = mid + 1;
      else hi = mid;
    }
    return this.members[this.owners[lo === n ? 0 : lo] as number];
  }
}

const MAX_MEMBERS = 65_536;

/**
 * MurmurHash3 x86_32 of the string's UTF-8 bytes. ASCII strings (guild and pod ids) are hashed
 * straight from their char codes; anything else is first turned into one char per UTF-8 byte so
 * the result is the standard murmur3 value any other implementation gives.
 */
export function murmur3(s: string, seed = 0): number {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) return murmur3Latin1(String.fromCharCode(...new TextEncoder().encode(s)), seed);
  }
  return murmur3Latin1(s, seed);
}

/** murmur3 over a string whose char codes are all bytes (≤ 0xff). */
function murmur3Latin1(s: string, seed: number): number {
  const len = s.length;
  let h = seed >>> 0;
  const tail = len & ~3;
  for (let i = 0; i < tail; i += 4) {
    const k = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) | (s.charCodeAt(i + 3) << 24);
    h ^= mixK(k);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = len & 3;
  if (rest > 0) {
    let k = s.charCodeAt(tail);
    if (rest > 1) k |= s.charCodeAt(tail + 1) << 8;
    if (rest > 2) k |= s.charCodeAt(tail + 2) << 16;
    h ^= mixK(k);
  }
  return fmix(h ^ len);
}

function mixK(k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, 0x1b873593);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
