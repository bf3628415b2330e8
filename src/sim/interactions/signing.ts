// The application's Ed25519 key pair: Discord signs `timestamp + rawBody` of every interaction
// it sends, and the endpoint verifies it with the public key (64 hex chars = the raw 32 bytes).
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

export interface InteractionSigner {
  /** Hex of the raw 32-byte public key (what DISCORD_PUBLIC_KEY holds). */
  readonly publicKey: string;
  /** Hex signature of `timestamp + body`. */
  sign(timestamp: string, body: string): string;
}

/** PKCS#8 DER header of an Ed25519 private key; the raw 32-byte seed follows it. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * A fresh key pair, or the one of `seedHex` (64 hex chars, the raw private seed) when given, so a
 * restarted stand-in can keep the public key its endpoints were configured with.
 */
export function createInteractionSigner(seedHex?: string): InteractionSigner {
  let privateKey: KeyObject;
  let publicKey: KeyObject;
  if (seedHex === undefined) {
    ({ publicKey, privateKey } = generateKeyPairSync('ed25519'));
  } else {
    if (!/^[0-9a-fA-F]{64}$/.test(seedHex)) throw new RangeError('the signing key must be 64 hex characters (a raw Ed25519 seed)');
    privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, Buffer.from(seedHex, 'hex')]), format: 'der', type: 'pkcs8' });
    publicKey = createPublicKey(privateKey);
  }
  return { publicKey: rawPublicKeyHex(publicKey), sign: (timestamp, body) => signWith(privateKey, timestamp, body) };
}

function signWith(privateKey: KeyObject, timestamp: string, body: string): string {
  return sign(null, Buffer.from(timestamp + body, 'utf8'), privateKey).toString('hex');
}

function rawPublicKeyHex(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('Ed25519 public key without x');
  return Buffer.from(jwk.x, 'base64url').toString('hex');
}

/** A signature that cannot verify: the right one with one byte changed (what Discord's probes look like). */
export function corruptSignature(hex: string): string {
  const b = Buffer.from(hex, 'hex');
  b[0] = (b[0] ?? 0) ^ 0xff;
  return b.toString('hex');
}
