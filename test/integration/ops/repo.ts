// What the ops tests share: the repository's paths, YAML loading, and the environment variables a
// deployment may set (src/config.ts's ENV table plus the few that Litestream reads itself).
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { ENV } from '../../../src/config.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const repoPath = (...parts: string[]): string => join(repoRoot, ...parts);
export const readRepoFile = (...parts: string[]): string => readFileSync(repoPath(...parts), 'utf8');

/** One YAML document; merge keys (`<<: *anchor`) resolved as docker compose does. */
export function parseYaml(text: string): unknown {
  return parse(text, { merge: true });
}

/** Every document of a multi-document YAML stream (kubectl kustomize output). */
export function parseYamlStream(text: string): unknown[] {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length > 0) throw new Error(d.errors.map((e) => e.message).join('\n'));
    return d.toJS() as unknown;
  }).filter((d) => d !== null);
}

/**
 * Variables that are not leasehold's own but that a deployment sets on purpose, with the reason.
 * Litestream expands these in litestream.yml (DESIGN §5); NODE_ENV is Node's and Koa's convention.
 */
export const EXTRA_ENV: Readonly<Record<string, string>> = {
  AWS_ACCESS_KEY_ID: 'S3 credentials, read by Litestream',
  AWS_SECRET_ACCESS_KEY: 'S3 credentials, read by Litestream',
  S3_ENDPOINT: 'S3-compatible endpoint (MinIO, R2, Spaces), expanded by Litestream in litestream.yml',
  S3_REGION: 'S3 region, expanded by Litestream in litestream.yml',
  NODE_ENV: 'Node/Koa convention, set by the image',
};

export const leaseholdEnv = new Set(Object.keys(ENV));
export const isKnownEnv = (name: string): boolean => leaseholdEnv.has(name) || name in EXTRA_ENV;

/** Default DRAIN_TIMEOUT_MS from the config table, for deployments that do not set it. */
export const defaultDrainTimeoutMs = Number(ENV.DRAIN_TIMEOUT_MS.def);

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const asObj = (v: unknown, what: string): Obj => {
  if (!isObj(v)) throw new Error(`${what}: expected a mapping, got ${JSON.stringify(v)}`);
  return v;
};
export const asArr = (v: unknown, what: string): unknown[] => {
  if (!Array.isArray(v)) throw new Error(`${what}: expected a list, got ${JSON.stringify(v)}`);
  return v;
};
