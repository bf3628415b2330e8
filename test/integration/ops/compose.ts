// Loads docker-compose.yml the way `docker compose config` does for our purposes: YAML with merge
// keys, then variable interpolation (${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, $$).
import { asObj, isObj, parseYaml, readRepoFile, type Obj } from './repo.js';

export interface LoadedCompose {
  readonly doc: Obj;
  readonly services: Record<string, Obj>;
  /** Variables used without a default while unset in `env` (compose would warn and use ""). */
  readonly unset: string[];
}

export function interpolate(value: string, env: Readonly<Record<string, string | undefined>>, unset: string[]): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, braced?: string, op?: string, arg?: string, bare?: string) => {
    if (whole === '$$') return '$';
    const name = (braced ?? bare) as string;
    const v = env[name];
    const missing = op?.startsWith(':') ? v === undefined || v === '' : v === undefined;
    if (!missing) return v as string;
    if (op === ':-' || op === '-') return interpolate(arg ?? '', env, unset);
    if (op === ':?' || op === '?') throw new Error(`required variable ${name} is missing: ${arg ?? ''}`);
    unset.push(name);
    return '';
  });
}

function walk(v: unknown, f: (s: string) => string): unknown {
  if (typeof v === 'string') return f(v);
  if (Array.isArray(v)) return v.map((x) => walk(x, f));
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, f)]));
  return v;
}

export function loadCompose(env: Readonly<Record<string, string | undefined>> = {}, text = readRepoFile('docker-compose.yml')): LoadedCompose {
  const unset: string[] = [];
  const doc = asObj(walk(parseYaml(text), (s) => interpolate(s, env, unset)), 'docker-compose.yml');
  const services = Object.fromEntries(Object.entries(asObj(doc['services'], 'services')).map(([k, v]) => [k, asObj(v, `service ${k}`)]));
  return { doc, services, unset };
}

/** A service's environment as a map, from either the mapping or the `KEY=value` list form. */
export function environmentOf(service: Obj): Record<string, string> {
  const env = service['environment'];
  if (env === undefined) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((e) => {
      const s = String(e);
      const i = s.indexOf('=');
      return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
    }));
  }
  return Object.fromEntries(Object.entries(asObj(env, 'environment')).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** Compose durations (`90s`, `1m30s`, `500ms`) in milliseconds. */
export function durationMs(d: string): number {
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)/g;
  let consumed = '';
  for (const m of d.matchAll(re)) {
    consumed += m[0];
    const n = Number(m[1]);
    total += n * ({ h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, ns: 0.000001 } as Record<string, number>)[m[2] as string]!;
  }
  if (consumed !== d) throw new Error(`not a duration: ${d}`);
  return total;
}
