// The ring spreads guilds evenly, moves few of them when membership changes, and gives every
// process the same answer for the same members and parameters.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_RING_PARAMS, murmur3, Ring, ringParams, ringParamsId, unsupportedRingParams } from '../../src/cluster/ring.js';
import { ownRing, podIds, realisticGuildIds, ringScenario, seededRandom } from '../../bench/ring.js';

const guilds = realisticGuildIds(100_000);
const make = ownRing(DEFAULT_RING_PARAMS.vnodes);

function digest(ring: Ring, ids: readonly string[]): string {
  const h = createHash('sha256');
  for (const g of ids) h.update(`${g}=${ring.lookup(g) ?? ''}\n`);
  return h.digest('hex');
}

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const rnd = seededRandom(seed);
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('ring balance and movement over 100k realistic guild ids', () => {
  for (const pods of [3, 10, 32]) {
    describe(`at ${pods} pods`, () => {
      const s = ringScenario(make, guilds, pods);

      it('no pod gets more than 1.10 × the mean', () => {
        expect(s.maxOverMean).toBeLessThanOrEqual(1.1);
      });

      it('a join moves at most 1/(N+1) + 1 % of guilds, all of them to the joiner', () => {
        expect(s.join.moved).toBeGreaterThan(0);
        expect(s.join.moved).toBeLessThanOrEqual(s.joinTarget);
        expect(s.join.strays).toBe(0);
      });

      it("a leave moves exactly the leaver's guilds and nothing else", () => {
        expect(s.leave.strays).toBe(0);
        expect(s.leave.moved).toBe(s.leaverShare);
        expect(s.leaverShare).toBeGreaterThan(0);
      });
    });
  }
});

describe('ring determinism', () => {
  const members = podIds(10);
  const sample = guilds.slice(0, 10_000);

  it('gives the same owners whatever order the members are given in, and ignores duplicates', () => {
    const ref = new Ring(members, DEFAULT_RING_PARAMS);
    for (const seed of [1, 2, 3]) {
      const other = new Ring([...shuffled(members, seed), members[0] as string], DEFAULT_RING_PARAMS);
      expect(other.members).toEqual([...members].sort());
      expect(digest(other, sample)).toBe(digest(ref, sample));
    }
  });

  it('depends on the members and on the number of points', () => {
    const ref = digest(new Ring(members, DEFAULT_RING_PARAMS), sample);
    expect(digest(new Ring(members.slice(1), DEFAULT_RING_PARAMS), sample)).not.toBe(ref);
    expect(digest(new Ring(members, ringParams(400)), sample)).not.toBe(ref);
  });

  describe('across processes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'leasehold-ring-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('a separate node process computes the same 10k lookups', () => {
      // The child loads ring.ts transpiled on its own (no build step, no shared memory).
      const source = readFileSync(new URL('../../src/cluster/ring.ts', import.meta.url), 'utf8');
      const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
      writeFileSync(join(dir, 'ring.mjs'), js);
      const input = join(dir, 'input.json');
      writeFileSync(input, JSON.stringify({ members: [...members].reverse(), ids: sample }));
      const child = `
        import { readFileSync } from 'node:fs';
        import { createHash } from 'node:crypto';
        import { Ring, DEFAULT_RING_PARAMS } from ${JSON.stringify(pathToFileURL(join(dir, 'ring.mjs')).href)};
        const { members, ids } = JSON.parse(readFileSync(process.argv[1], 'utf8'));
        const ring = new Ring(members, DEFAULT_RING_PARAMS);
        const h = createHash('sha256');
        for (const g of ids) h.update(g + '=' + (ring.lookup(g) ?? '') + '\\n');
        process.stdout.write(h.digest('hex'));
      `;
      const theirs = execFileSync(process.execPath, ['--input-type=module', '-e', child, input], { encoding: 'utf8' });
      expect(theirs).toMatch(/^[0-9a-f]{64}$/);
      expect(theirs).toBe(digest(new Ring(members, DEFAULT_RING_PARAMS), sample));
    });
  });
});

describe('ring basics', () => {
  it('an empty ring owns nothing', () => {
    expect(new Ring([], DEFAULT_RING_PARAMS).lookup('123456789012345678')).toBeUndefined();
  });

  it('a one-member ring gives every guild to that member', () => {
    const ring = new Ring(['only'], DEFAULT_RING_PARAMS);
    expect(new Set(guilds.slice(0, 1000).map((g) => ring.lookup(g)))).toEqual(new Set(['only']));
  });

  it('names its parameters in the member key form v<version>:<vnodes>:<hash>', () => {
    expect(ringParamsId(ringParams(400))).toBe(`v${DEFAULT_RING_PARAMS.version}:400:${DEFAULT_RING_PARAMS.hash}`);
    expect(ringParamsId(DEFAULT_RING_PARAMS)).toMatch(/^v\d+:\d+:murmur3$/);
  });

  it('refuses parameters this build cannot compute, so a mixed deploy fails loudly', () => {
    expect(unsupportedRingParams(DEFAULT_RING_PARAMS)).toBeUndefined();
    expect(unsupportedRingParams({ ...DEFAULT_RING_PARAMS, hash: 'md5' })).toMatch(/hash/);
    expect(unsupportedRingParams({ ...DEFAULT_RING_PARAMS, version: '99' })).toMatch(/version/);
    expect(() => new Ring(['a'], { ...DEFAULT_RING_PARAMS, vnodes: 0 })).toThrow(RangeError);
  });

  it('hashes with standard MurmurHash3 x86_32 (published test vectors), UTF-8 included', () => {
    expect(murmur3('')).toBe(0);
    expect(murmur3('hello')).toBe(0x248bfa47);
    expect(murmur3('The quick brown fox jumps over the lazy dog')).toBe(0x2e4ff723);
    expect(murmur3('abc')).toBe(0xb3dd93fa);
    // Non-ASCII hashes its UTF-8 bytes (value from an independent implementation).
    expect(murmur3('héllo')).toBe(0xbc9fa068);
  });
});
