// Discord's interaction signature (DESIGN §8a): Ed25519 over `timestamp + rawBody` with the
// application's public key. Checked on the raw bytes before anything else looks at them.
import { createPublicKey, webcrypto, type KeyObject } from 'node:crypto';

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 raw key bytes follow it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Discord's clock and ours may differ a little; a replay older than this is refused. */
export const SIGNATURE_MAX_AGE_MS = 5 * 60_000;

export type SignatureCheck = { readonly ok: true } | { readonly ok: false; readonly code: 'MISSING_SIGNATURE' | 'BAD_SIGNATURE' | 'STALE_TIMESTAMP'; readonly message: string };

/** The key as a KeyObject (SPKI DER around the 32 raw bytes); throws on anything but 64 hex characters. */
export function publicKeyFromHex(hex: string): KeyObject {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new RangeError('an Ed25519 public key is 64 hex characters');
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(hex, 'hex')]), format: 'der', type: 'spki' });
}

/**
 * Checks X-Signature-Ed25519 / X-Signature-Timestamp against the raw body. The Ed25519 work
 * runs through WebCrypto, i.e. on libuv's thread pool: measured here, a synchronous verify holds
 * the event loop ~110 µs per interaction, the asynchronous one ~12 µs, so interactions in flight
 * (and their deadlines) do not queue behind signature checks (bench/edge.ts).
 */
export class DiscordSignatureVerifier {
  private readonly key: Promise<webcrypto.CryptoKey>;

  constructor(publicKeyHex: string) {
    const spki = publicKeyFromHex(publicKeyHex).export({ format: 'der', type: 'spki' });
    this.key = webcrypto.subtle.importKey('spki', spki, { name: 'Ed25519' }, false, ['verify']);
    // A key that fails to import fails every check (401), never the process.
    this.key.catch(() => undefined);
  }

  /** `nowMs` is wall time; the timestamp is Unix seconds as Discord sends it. */
  async check(signatureHex: string | undefined, timestamp: string | undefined, rawBody: Buffer, nowMs: number, maxAgeMs = SIGNATURE_MAX_AGE_MS): Promise<SignatureCheck> {
    if (!signatureHex || !timestamp) return { ok: false, code: 'MISSING_SIGNATURE', message: 'X-Signature-Ed25519 and X-Signature-Timestamp are required' };
    if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, code: 'STALE_TIMESTAMP', message: 'X-Signature-Timestamp must be Unix seconds' };
    if (Math.abs(nowMs - Number(timestamp) * 1000) > maxAgeMs) return { ok: false, code: 'STALE_TIMESTAMP', message: `X-Signature-Timestamp is more than ${maxAgeMs / 1000} s away from now` };
    if (!/^[0-9a-fA-F]{128}$/.test(signatureHex)) return { ok: false, code: 'BAD_SIGNATURE', message: 'X-Signature-Ed25519 must be 128 hex characters' };
    let valid = false;
    try {
      valid = await webcrypto.subtle.verify('Ed25519', await this.key, Buffer.from(signatureHex, 'hex'), Buffer.concat([Buffer.from(timestamp, 'utf8'), rawBody]));
    } catch {
      valid = false;
    }
    return valid ? { ok: true } : { ok: false, code: 'BAD_SIGNATURE', message: 'invalid request signature' };
  }
}
