// Operator controls in Redis: pins (a guild's wished-for pod) and cordons (a pod that must own
// nothing). Written through scripts so each change reaches lh:events; read with SCAN.
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import type { Scripts } from './scripts.js';
import { isPodId } from './ids.js';
import { scanKeys } from './leases.js';

export class ControlClient {
  constructor(
    private readonly redis: Redis,
    private readonly scripts: Scripts,
    private readonly keys: Keys,
    private readonly maxLen: number,
  ) {}

  /** Pin (pod) or unpin (undefined). Returns the previous pin. */
  async setPin(guildId: string, podId: string | undefined): Promise<string | undefined> {
    const r = await this.scripts.runOk('pin', [this.keys.pin(guildId), this.keys.events], [guildId, podId ?? '', this.maxLen]);
    return r[1] ? String(r[1]) : undefined;
  }

  /** Cordon (reason) or uncordon (undefined). Returns whether it was cordoned before. */
  async setCordon(podId: string, reason: string | undefined): Promise<boolean> {
    const r = await this.scripts.runOk('cordon', [this.keys.cordon(podId), this.keys.events], [podId, reason ?? '', this.maxLen]);
    return Number(r[1]) === 1;
  }

  /** Every pin; pins holding garbage are reported, not returned. */
  async readPins(): Promise<{ pins: Map<string, string>; garbage: string[] }> {
    const pins = new Map<string, string>();
    const garbage: string[] = [];
    for await (const batch of scanKeys(this.redis, this.keys.pinPattern)) {
      const values = await mgetStrings(this.redis, batch);
      batch.forEach((key, i) => {
        const guildId = this.keys.guildOf(key);
        const v = values[i];
        if (guildId && isPodId(v)) pins.set(guildId, v);
        else garbage.push(key);
      });
    }
    return { pins, garbage };
  }

  async readCordons(): Promise<Map<string, string>> {
    const cordons = new Map<string, string>();
    for await (const batch of scanKeys(this.redis, this.keys.cordonPattern)) {
      const values = await mgetStrings(this.redis, batch);
      batch.forEach((key, i) => {
        const pod = this.keys.podOfCordon(key);
        // Any value (even garbage) in a cordon key means "cordoned": the safe reading.
        if (pod && isPodId(pod)) cordons.set(pod, values[i] ?? '(not a string)');
      });
    }
    return cordons;
  }
}

/** GET many keys that should be strings; a key of another type reads as undefined. */
async function mgetStrings(redis: Redis, keys: string[]): Promise<(string | undefined)[]> {
  const pipe = redis.pipeline();
  for (const k of keys) pipe.get(k);
  const replies = (await pipe.exec()) ?? [];
  return replies.map(([err, v]) => (err || typeof v !== 'string' ? undefined : v));
}
