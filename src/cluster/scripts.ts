// Loads lua/*.lua, expands `--- @include "x"` fragments, and registers each script with ioredis
// under a versioned command name (name + hash of its body), so a rolling deploy never runs two
// bodies under one name. ioredis falls back from EVALSHA to EVAL on NOSCRIPT, which is what
// makes SCRIPT FLUSH and a Redis restart harmless.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { luaDir } from '../paths.js';
import { metrics } from '../metrics.js';
import { ScriptError, ScriptErrorCode } from './errors.js';

export const SCRIPT_FILES = {
  claim: 'claim-4.lua',
  renew: 'renew-N.lua',
  handoff: 'handoff-4.lua',
  release: 'release-3.lua',
  memberHeartbeat: 'member-heartbeat-3.lua',
  memberLeave: 'member-leave-3.lua',
  pin: 'pin-2.lua',
  cordon: 'cordon-2.lua',
  ring: 'ring-2.lua',
  readGuild: 'read-guild-4.lua',
  rateWindow: 'rate-window-1.lua',
  rateSliding: 'rate-sliding-1.lua',
  interactionDefer: 'interaction-defer-2.lua',
  interactionResolve: 'interaction-resolve-2.lua',
  interactionComplete: 'interaction-complete-2.lua',
} as const;
export type ScriptName = keyof typeof SCRIPT_FILES;

interface LoadedScript {
  readonly name: ScriptName;
  readonly command: string;
  readonly numberOfKeys: number | undefined;
  readonly lua: string;
}

function expand(file: string, seen = new Set<string>()): string {
  const body = readFileSync(join(luaDir, file), 'utf8');
  return body.replace(/^--- @include "([^"]+)"$/gm, (_m, inc: string) => {
    if (seen.has(inc)) return '';
    seen.add(inc);
    return expand(`${inc}.lua`, seen);
  });
}

let cache: ReadonlyMap<ScriptName, LoadedScript> | undefined;

/** Every script, loaded once per process. */
export function loadScripts(): ReadonlyMap<ScriptName, LoadedScript> {
  if (cache) return cache;
  const known = new Set(Object.values(SCRIPT_FILES) as string[]);
  const stray = readdirSync(luaDir).filter((f) => f.endsWith('.lua') && !known.has(f));
  if (stray.length > 0) throw new Error(`lua/ has scripts no code registers: ${stray.join(', ')}`);
  const out = new Map<ScriptName, LoadedScript>();
  for (const [name, file] of Object.entries(SCRIPT_FILES) as [ScriptName, string][]) {
    const lua = expand(file);
    const m = /-(\d+|N)\.lua$/.exec(file);
    const numberOfKeys = m?.[1] === 'N' ? undefined : Number(m?.[1]);
    const version = createHash('sha1').update(lua).digest('hex').slice(0, 10);
    out.set(name, { name, command: `lh_${name}_${version}`, numberOfKeys, lua });
  }
  cache = out;
  return out;
}

type Reply = (string | number | null)[];
type ScriptCaller = (...args: (string | number)[]) => Promise<Reply>;

/** Typed access to the scripts on one ioredis connection. */
export class Scripts {
  private readonly callers = new Map<ScriptName, ScriptCaller>();

  constructor(readonly redis: Redis) {
    for (const s of loadScripts().values()) {
      const r = redis as unknown as Record<string, ScriptCaller | undefined>;
      if (typeof r[s.command] !== 'function') {
        redis.defineCommand(s.command, s.numberOfKeys === undefined ? { lua: s.lua } : { lua: s.lua, numberOfKeys: s.numberOfKeys });
      }
      const fn = r[s.command];
      if (typeof fn !== 'function') throw new Error(`script ${s.name} did not register`);
      this.callers.set(s.name, fn.bind(redis) as ScriptCaller);
    }
  }

  /**
   * Run a script. Replies whose first element is a non-zero code become ScriptError, except
   * the codes the caller says it expects (returned as data so hot paths do not throw).
   */
  async run(name: ScriptName, keys: readonly string[], args: readonly (string | number)[]): Promise<Reply> {
    const call = this.callers.get(name);
    if (!call) throw new Error(`unknown script ${name}`);
    const s = loadScripts().get(name);
    const params = s?.numberOfKeys === undefined ? [keys.length, ...keys, ...args] : [...keys, ...args];
    const end = metrics.scriptSeconds.startTimer({ script: name });
    try {
      return await call(...params);
    } finally {
      end();
    }
  }

  /** Like run, but a non-zero code in the reply throws ScriptError. */
  async runOk(name: ScriptName, keys: readonly string[], args: readonly (string | number)[]): Promise<Reply> {
    const reply = await this.run(name, keys, args);
    const code = Number(reply[0]);
    if (code !== 0) throw new ScriptError(code as ScriptErrorCode, name, reply.slice(1));
    return reply;
  }
}
