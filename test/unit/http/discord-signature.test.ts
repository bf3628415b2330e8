import { describe, expect, it } from 'vitest';
import { generateKeyPairSync, sign } from 'node:crypto';
import { DiscordSignatureVerifier, publicKeyFromHex } from '../../../src/http/discord-signature.js';

const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const der = publicKey.export({ format: 'der', type: 'spki' });
const verifier = new DiscordSignatureVerifier(der.subarray(der.length - 32).toString('hex'));
const NOW = Date.UTC(2026, 0, 1);
const ts = String(NOW / 1000);
const body = Buffer.from('{"type":1}');
const sig = sign(null, Buffer.concat([Buffer.from(ts), body]), privateKey).toString('hex');

describe("Discord's Ed25519 interaction signature", () => {
  it('a signature over timestamp + raw body with the application key is accepted', async () => {
    expect(await verifier.check(sig, ts, body, NOW)).toEqual({ ok: true });
    expect(await verifier.check(sig.toUpperCase(), ts, body, NOW)).toEqual({ ok: true });
  });

  it('another body, another timestamp or a flipped bit is refused', async () => {
    expect(await verifier.check(sig, ts, Buffer.from('{"type":2}'), NOW)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    expect(await verifier.check(sig, String(NOW / 1000 + 1), body, NOW)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    const flipped = (sig.slice(0, -1) + (sig.endsWith('0') ? '1' : '0'));
    expect(await verifier.check(flipped, ts, body, NOW)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('missing headers, non-hex or short signatures and timestamps over 5 minutes away are refused', async () => {
    expect(await verifier.check(undefined, ts, body, NOW)).toMatchObject({ ok: false, code: 'MISSING_SIGNATURE' });
    expect(await verifier.check(sig, undefined, body, NOW)).toMatchObject({ ok: false, code: 'MISSING_SIGNATURE' });
    expect(await verifier.check('g'.repeat(128), ts, body, NOW)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    expect(await verifier.check(sig.slice(2), ts, body, NOW)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    expect(await verifier.check(sig, ts, body, NOW + 5 * 60_000 + 1)).toMatchObject({ ok: false, code: 'STALE_TIMESTAMP' });
    expect(await verifier.check(sig, 'yesterday', body, NOW)).toMatchObject({ ok: false, code: 'STALE_TIMESTAMP' });
  });

  it('a public key that is not 32 bytes of hex is a configuration error', () => {
    expect(() => publicKeyFromHex('abcd')).toThrow(RangeError);
    expect(() => new DiscordSignatureVerifier('zz'.repeat(32))).toThrow(RangeError);
  });
});
