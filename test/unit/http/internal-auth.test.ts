import { describe, expect, it } from 'vitest';
import { INTERNAL_HEADERS, signInternal, verifyInternal, type InternalRequestParts } from '../../../src/runtime/internal-auth.js';

const NOW = Date.UTC(2026, 0, 1);
const req: InternalRequestParts = { method: 'POST', pathWithQuery: '/internal/guilds/123456789012345678/interactions?x=1', owner: 'gw-a', epoch: 7, body: '{"id":"1"}' };
const verify = (headers: Record<string, string>, over: Partial<InternalRequestParts> = {}, secrets = ['s-new-0001', 's-old-0001'], now = NOW) =>
  verifyInternal(secrets, { method: over.method ?? req.method, pathWithQuery: over.pathWithQuery ?? req.pathWithQuery, headers, body: over.body ?? req.body }, now);

describe('internal request signatures', () => {
  it('a signed request verifies and carries the expected owner, epoch and deadline', () => {
    const h = signInternal('s-new-0001', req, NOW, NOW + 2900);
    expect(verify(h)).toEqual({ ok: true, timestampMs: NOW, owner: 'gw-a', epoch: 7, deadlineAt: NOW + 2900 });
  });

  it('any secret of the list verifies, so a secret can be rotated with two valid at once', () => {
    expect(verify(signInternal('s-old-0001', req, NOW)).ok).toBe(true);
    expect(verify(signInternal('s-other-01', req, NOW))).toMatchObject({ ok: false, status: 401, code: 'BAD_SIGNATURE' });
  });

  it('changing the method, path, body, owner or epoch breaks the signature', () => {
    const h = signInternal('s-new-0001', req, NOW);
    expect(verify(h, { method: 'GET' }).ok).toBe(false);
    expect(verify(h, { pathWithQuery: '/internal/guilds/123456789012345678/interactions?x=2' }).ok).toBe(false);
    expect(verify(h, { body: '{"id":"2"}' }).ok).toBe(false);
    expect(verify({ ...h, [INTERNAL_HEADERS.owner]: 'gw-b' }).ok).toBe(false);
    expect(verify({ ...h, [INTERNAL_HEADERS.epoch]: '8' }).ok).toBe(false);
  });

  it('an unknown owner and epoch are signed as empty strings', () => {
    const h = signInternal('s-new-0001', { ...req, owner: undefined, epoch: undefined }, NOW);
    expect(h[INTERNAL_HEADERS.owner]).toBe('');
    expect(h[INTERNAL_HEADERS.epoch]).toBe('');
    expect(verify(h, {})).toMatchObject({ ok: true, owner: undefined, epoch: undefined });
  });

  it('requests older or newer than 30 s are refused, and so are missing or malformed headers', () => {
    const h = signInternal('s-new-0001', req, NOW);
    expect(verify(h, {}, undefined, NOW + 30_000).ok).toBe(true);
    expect(verify(h, {}, undefined, NOW + 30_001)).toMatchObject({ ok: false, code: 'STALE_TIMESTAMP' });
    expect(verify(h, {}, undefined, NOW - 30_001)).toMatchObject({ ok: false, code: 'STALE_TIMESTAMP' });
    const { [INTERNAL_HEADERS.signature]: _sig, ...noSig } = h;
    expect(verify(noSig)).toMatchObject({ ok: false, code: 'MISSING_SIGNATURE' });
    expect(verify({ ...h, [INTERNAL_HEADERS.timestamp]: 'soon' })).toMatchObject({ ok: false, code: 'BAD_TIMESTAMP' });
    expect(verify({ ...h, [INTERNAL_HEADERS.signature]: 'abc' })).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    expect(verify({ ...h, [INTERNAL_HEADERS.epoch]: '-1' })).toMatchObject({ ok: false, code: 'BAD_EPOCH' });
  });
});
