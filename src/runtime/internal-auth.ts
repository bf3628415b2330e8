// Signs edge → gateway requests and verifies them on the gateway side (docs/internal-api.md):
// HMAC-SHA256 over timestamp, method, path, expected owner/epoch and the body's hash.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Header names (lower case, as node:http presents them). */
export const INTERNAL_HEADERS = {
  timestamp: 'x-leasehold-timestamp',
  owner: 'x-leasehold-owner',
  epoch: 'x-leasehold-epoch',
  deadline: 'x-leasehold-deadline',
  signature: 'x-leasehold-signature',
} as const;

/** A signed request older (or further in the future) than this is refused: replays expire. */
export const INTERNAL_MAX_AGE_MS = 30_000;

export interface InternalRequestParts {
  readonly method: string;
  /** Path with query string exactly as sent, e.g. `/internal/guilds/1/stats?x=1`. */
  readonly pathWithQuery: string;
  /** The owner and epoch the edge expects; undefined when it does not know. */
  readonly owner: string | undefined;
  readonly epoch: number | undefined;
  readonly body: Uint8Array | string;
}

export type InternalAuthErrorCode = 'MISSING_SIGNATURE' | 'BAD_TIMESTAMP' | 'STALE_TIMESTAMP' | 'BAD_SIGNATURE' | 'BAD_EPOCH';

export type InternalVerifyResult =
  | {
      readonly ok: true;
      readonly timestampMs: number;
      readonly owner: string | undefined;
      readonly epoch: number | undefined;
      /** Wall-clock ms by which the edge will have answered Discord (unsigned, advisory). */
      readonly deadlineAt: number | undefined;
    }
  | { readonly ok: false; readonly status: 401; readonly code: InternalAuthErrorCode; readonly message: string };

const sha256hex = (body: Uint8Array | string): string => createHash('sha256').update(body).digest('hex');

/** The hex HMAC of one request, as both sides compute it. */
export function internalSignature(secret: string, timestampMs: number, req: InternalRequestParts): string {
  const payload = `${timestampMs}\n${req.method.toUpperCase()}\n${req.pathWithQuery}\n${req.owner ?? ''}\n${req.epoch ?? ''}\n${sha256hex(req.body)}`;
  return createHmac('sha256', secret).update(payload).digest('hex');
}

/**
 * Headers for a request to a gateway, signed with `secret` (the first INTERNAL_SECRET: rotation
 * adds the new secret to every pod's list first, then moves it to the front).
 */
export function signInternal(secret: string, req: InternalRequestParts, nowMs: number, deadlineAt?: number): Record<string, string> {
  const headers: Record<string, string> = {
    [INTERNAL_HEADERS.timestamp]: String(nowMs),
    [INTERNAL_HEADERS.owner]: req.owner ?? '',
    [INTERNAL_HEADERS.epoch]: req.epoch === undefined ? '' : String(req.epoch),
    [INTERNAL_HEADERS.signature]: internalSignature(secret, nowMs, req),
  };
  if (deadlineAt !== undefined) headers[INTERNAL_HEADERS.deadline] = String(Math.floor(deadlineAt));
  return headers;
}

type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>;

function header(h: HeaderBag, name: string): string | undefined {
  const v = h[name] ?? h[name.toLowerCase()];
  return Array.isArray(v) ? (v[0] as string | undefined) : (v as string | undefined);
}

const fail = (code: InternalAuthErrorCode, message: string): InternalVerifyResult => ({ ok: false, status: 401, code, message });

/**
 * Check a request's signature against every secret in the list (any may match, for rotation),
 * in constant time per secret. `nowMs` is wall-clock time: both pods' clocks must agree within
 * INTERNAL_MAX_AGE_MS, which NTP gives by a wide margin.
 */
export function verifyInternal(
  secrets: readonly string[],
  req: { readonly method: string; readonly pathWithQuery: string; readonly headers: HeaderBag; readonly body: Uint8Array | string },
  nowMs: number,
  maxAgeMs = INTERNAL_MAX_AGE_MS,
): InternalVerifyResult {
  const tsRaw = header(req.headers, INTERNAL_HEADERS.timestamp);
  const sigRaw = header(req.headers, INTERNAL_HEADERS.signature);
  if (tsRaw === undefined || sigRaw === undefined) return fail('MISSING_SIGNATURE', 'X-Leasehold-Timestamp and X-Leasehold-Signature are required');
  if (!/^\d{1,15}$/.test(tsRaw)) return fail('BAD_TIMESTAMP', 'X-Leasehold-Timestamp must be milliseconds since the epoch');
  const timestampMs = Number(tsRaw);
  if (Math.abs(nowMs - timestampMs) > maxAgeMs) return fail('STALE_TIMESTAMP', `request signed ${nowMs - timestampMs} ms from now; at most ${maxAgeMs} ms either way is accepted`);
  if (!/^[0-9a-f]{64}$/i.test(sigRaw)) return fail('BAD_SIGNATURE', 'X-Leasehold-Signature must be 64 hex characters');
  const ownerRaw = header(req.headers, INTERNAL_HEADERS.owner) ?? '';
  const epochRaw = header(req.headers, INTERNAL_HEADERS.epoch) ?? '';
  if (epochRaw !== '' && !/^\d{1,15}$/.test(epochRaw)) return fail('BAD_EPOCH', 'X-Leasehold-Epoch must be empty or a whole number');
  const parts: InternalRequestParts = {
    method: req.method,
    pathWithQuery: req.pathWithQuery,
    owner: ownerRaw === '' ? undefined : ownerRaw,
    epoch: epochRaw === '' ? undefined : Number(epochRaw),
    body: req.body,
  };
  const given = Buffer.from(sigRaw.toLowerCase(), 'hex');
  let match = false;
  // Every secret is tried even after a match, so timing says nothing about which one matched.
  for (const secret of secrets) {
    const expected = Buffer.from(internalSignature(secret, timestampMs, parts), 'hex');
    if (timingSafeEqual(expected, given)) match = true;
  }
  if (!match) return fail('BAD_SIGNATURE', 'signature does not match any INTERNAL_SECRET');
  const deadlineRaw = header(req.headers, INTERNAL_HEADERS.deadline);
  const deadlineAt = deadlineRaw !== undefined && /^\d{1,15}$/.test(deadlineRaw) ? Number(deadlineRaw) : undefined;
  return { ok: true, timestampMs, owner: parts.owner, epoch: parts.epoch, deadlineAt };
}
