// Waiting for a condition with a deadline (never a fixed sleep), with a progress line while it takes long.
import { progress } from '../table.js';

export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, everyMs = 100): Promise<T> {
  const start = Date.now();
  let lastNote = start;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    const now = Date.now();
    if (now - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${String(lastErr)})` : ''}`);
    if (now - lastNote >= 15_000) {
      lastNote = now;
      progress(`  still waiting for ${what} (${Math.round((now - start) / 1000)} s)`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
