// docker-compose.yml gives a working cluster: valid against the Compose specification, every
// leasehold service runs a real role with a configuration src/config.ts accepts, and ports,
// health checks, the stand-in, MinIO and Prometheus agree with each other.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfig, ROLES, type Role } from '../../../src/config.js';
import { durationMs, environmentOf, interpolate, loadCompose } from './compose.js';
import { envOf, parseDockerfile } from './dockerfile.js';
import { validateSchema, type Schema } from './json-schema.js';
import { asArr, asObj, defaultDrainTimeoutMs, isKnownEnv, parseYaml, readRepoFile, repoPath, repoRoot, type Obj } from './repo.js';

const run = promisify(execFile);
const compose = loadCompose();
const services = compose.services;
const imageEnv = envOf(parseDockerfile(readRepoFile('Dockerfile')).stages.at(-1)!);

/** Services that run the leasehold image (they are the ones built from this repository). */
const leasehold = Object.entries(services).filter(([, s]) => s['build'] !== undefined);
const SERVER_ROLES: readonly Role[] = ['gateway', 'http', 'sim'];

function roleOf(name: string, s: Obj): { role: string; args: string[] } {
  const entry = s['entrypoint'] === undefined ? undefined : asArr(s['entrypoint'], `${name}.entrypoint`).map(String);
  const command = s['command'] === undefined ? [] : asArr(s['command'], `${name}.command`).map(String);
  if (entry) {
    expect(entry.slice(0, 2), `${name}: an entrypoint override still runs the CLI`).toEqual(['node', 'dist/src/cli.js']);
    return { role: entry[2] ?? command[0] ?? 'gateway', args: entry[2] ? command : command.slice(1) };
  }
  return { role: command[0] ?? 'gateway', args: command.slice(1) };
}
const byRole = (role: string) => leasehold.filter(([n, s]) => roleOf(n, s).role === role);
const envWithImage = (s: Obj): Record<string, string> => ({ ...imageEnv, ...environmentOf(s) });

describe('docker-compose.yml', () => {
  it('needs no variable from the shell: every ${VAR} has a default', () => {
    expect(compose.unset).toEqual([]);
  });

  it('is valid against the Compose specification, and to `docker compose config` where the plugin runs', async () => {
    // The spec's JSON schema ships with the `docker-compose` npm package (a testcontainers dependency).
    const require = createRequire(import.meta.url);
    const schemaPath = require.resolve('docker-compose/schema/compose-spec.json');
    const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as Schema;
    expect(validateSchema(schema, compose.doc)).toEqual([]);
    // The validator itself must notice a misspelt key.
    const broken = { ...compose.doc, services: { ...services, redis: { ...services['redis'], healthchek: {} } } };
    expect(validateSchema(schema, broken).map((e) => e.path)).toContain('$.services.redis.healthchek');
    // Here only the docker client exists; where the compose plugin does, it has the last word too.
    if (spawnSync('docker', ['compose', 'version']).status === 0) {
      await run('docker', ['compose', '-f', 'docker-compose.yml', 'config', '-q'], { cwd: repoRoot });
    }
  });

  it('runs Redis without eviction and without AOF, Postgres, MinIO, the stand-in, 3 gateways, 2 http pods, Prometheus and Grafana', () => {
    const redis = asArr(services['redis']?.['command'], 'redis.command').map(String);
    expect(redis.join(' ')).toMatch(/--maxmemory-policy noeviction/);
    expect(redis.join(' ')).toMatch(/--appendonly no/);
    for (const s of ['postgres', 'minio', 'prometheus', 'grafana']) expect(services, s).toHaveProperty(s);
    expect(byRole('sim')).toHaveLength(1);
    expect(byRole('gateway')).toHaveLength(3);
    expect(byRole('http')).toHaveLength(2);
  });

  it('runs only real roles, and only with variables src/config.ts knows (or Litestream reads)', () => {
    expect(leasehold.length).toBeGreaterThanOrEqual(6);
    for (const [name, s] of leasehold) {
      const { role } = roleOf(name, s);
      expect(ROLES, `${name} role`).toContain(role);
      expect(Object.keys(environmentOf(s)).filter((k) => !isKnownEnv(k)), `${name}: unknown variables`).toEqual([]);
    }
  });

  it("gives every leasehold service a configuration its role's config loader accepts", () => {
    for (const [name, s] of leasehold) {
      const role = roleOf(name, s).role as Role;
      expect(() => loadConfig(role, envWithImage(s)), `${name} (${role})`).not.toThrow();
    }
  });

  it('has each server listen on the port it exposes and advertise its own service name', () => {
    for (const [name, s] of leasehold) {
      const role = roleOf(name, s).role as Role;
      if (!SERVER_ROLES.includes(role)) continue;
      const env = envWithImage(s);
      expect(asArr(s['expose'], `${name}.expose`).map(String), name).toEqual([env['PORT']]);
      expect(env['ADVERTISE_ADDR'], name).toBe(`${name}:${env['PORT']}`);
      for (const p of Array.isArray(s['ports']) ? s['ports'].map(String) : []) expect(p.split(':').at(-1), `${name} publishes its PORT`).toBe(env['PORT']);
      if (role !== 'sim') expect(env['POD_ID'], `${name}: POD_ID`).toBe(name);
    }
    const hostPorts = Object.values(services).flatMap((s) => (Array.isArray(s['ports']) ? s['ports'].map((p) => String(p).split(':').slice(0, -1).join(':')) : []));
    expect(new Set(hostPorts).size, 'host ports are unique').toBe(hostPorts.length);
  });

  it('points the gateways at the stand-in with its shard count and at MinIO with the bucket it creates', () => {
    const [simName, sim] = byRole('sim')[0]!;
    const simArgs = roleOf(simName, sim).args;
    const shards = simArgs[simArgs.indexOf('--shards') + 1];
    const simAddr = envWithImage(sim)['ADVERTISE_ADDR'];
    const bucketArgs = asArr(services['minio-bucket']?.['command'], 'minio-bucket.command').map(String);
    expect(bucketArgs.slice(0, 2)).toEqual(['mb', '--ignore-existing']);
    const bucket = bucketArgs[2]!.split('/')[1];
    for (const [name, s] of byRole('gateway')) {
      const env = envWithImage(s);
      expect(new URL(env['DISCORD_API_URL']!).host, `${name}: DISCORD_API_URL`).toBe(simAddr);
      expect(env['SHARD_COUNT'], `${name}: SHARD_COUNT`).toBe(shards);
      expect(new URL(env['REPLICA_URL']!).host, `${name}: REPLICA_URL bucket`).toBe(bucket);
      expect(new URL(env['S3_ENDPOINT']!).hostname, `${name}: S3_ENDPOINT`).toBe('minio');
      expect(env['AWS_ACCESS_KEY_ID'], name).toBe(environmentOf(services['minio']!)['MINIO_ROOT_USER']);
      expect(env['AWS_SECRET_ACCESS_KEY'], name).toBe(environmentOf(services['minio']!)['MINIO_ROOT_PASSWORD']);
    }
    for (const [name, s] of [...byRole('gateway'), ...byRole('http')]) {
      expect(environmentOf(s)['INTERNAL_SECRET'], `${name}: one internal secret for the cluster`).toBe(environmentOf(byRole('gateway')[0]![1])['INTERNAL_SECRET']);
    }
  });

  it('gives each gateway its own data volume and longer than DRAIN_TIMEOUT_MS to drain', () => {
    const volumes = new Set<string>();
    for (const [name, s] of byRole('gateway')) {
      const env = envWithImage(s);
      const mounts = asArr(s['volumes'], `${name}.volumes`).map(String);
      const data = mounts.find((m) => m.split(':')[1] === env['DATA_DIR']);
      expect(data, `${name} mounts a volume at DATA_DIR`).toBeDefined();
      volumes.add(data!.split(':')[0]!);
      const drain = Number(env['DRAIN_TIMEOUT_MS'] ?? defaultDrainTimeoutMs);
      expect(durationMs(String(s['stop_grace_period'])), `${name} stop_grace_period`).toBeGreaterThan(drain);
    }
    expect(volumes.size).toBe(3);
    for (const v of volumes) expect(asObj(compose.doc['volumes'], 'volumes')).toHaveProperty(v);
  });

  it('waits only on health checks that exist, for services that exist', () => {
    for (const [name, s] of Object.entries(services)) {
      const deps = s['depends_on'];
      if (deps === undefined) continue;
      const entries: [string, unknown][] = Array.isArray(deps) ? deps.map((d) => [String(d), {}]) : Object.entries(asObj(deps, `${name}.depends_on`));
      for (const [dep, cond] of entries) {
        const target = services[dep];
        expect(target, `${name} depends on ${dep}`).toBeDefined();
        const condition = asObj(cond, 'condition')['condition'];
        if (condition === 'service_healthy') {
          const own = target!['healthcheck'];
          const hasCheck = own !== undefined ? asObj(own, 'healthcheck')['disable'] !== true : target!['build'] !== undefined; // the image's HEALTHCHECK
          expect(hasCheck, `${dep} has a health check for ${name} to wait on`).toBe(true);
        }
        if (condition === 'service_completed_successfully') expect(target!['restart'], `${dep} runs once`).toBe('no');
      }
    }
  });

  it('mounts only files that exist in the repository', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const m of Array.isArray(s['volumes']) ? s['volumes'].map(String) : []) {
        const src = m.split(':')[0]!;
        if (src.startsWith('.')) expect(existsSync(repoPath(src)), `${name} mounts ${src}`).toBe(true);
      }
    }
  });

  it('has Prometheus scrape exactly the gateways and http pods under the jobs the dashboards select', () => {
    const prom = asObj(parseYaml(readRepoFile('deploy/prometheus/prometheus.yml')), 'prometheus.yml');
    const targets = (job: string) =>
      asArr(asObj(asArr(prom['scrape_configs'], 'scrape').map((x) => asObj(x, 'scrape')).find((x) => x['job_name'] === job), job)['static_configs'], 'static')
        .flatMap((c) => asArr(asObj(c, 'static')['targets'], 'targets').map(String))
        .sort();
    const expected = (role: string) => byRole(role).map(([n, s]) => `${n}:${envWithImage(s)['PORT']}`).sort();
    expect(targets('leasehold-gateway')).toEqual(expected('gateway'));
    expect(targets('leasehold-http')).toEqual(expected('http'));
  });
});

describe('compose interpolation (as the tests read it)', () => {
  it('takes values from the environment, else defaults, and keeps $$ as a literal dollar', () => {
    const unset: string[] = [];
    expect(interpolate('${A:-x}/${B-y}/$C/$${D}', { A: 'a', B: '' }, unset)).toBe('a///${D}');
    expect(unset).toEqual(['C']);
    expect(interpolate('${A:-x}', { A: '' }, [])).toBe('x');
    expect(() => interpolate('${A:?set A}', {}, [])).toThrow(/set A/);
  });

  it('lets an operator override the image and published ports from the shell', () => {
    const custom = loadCompose({ LEASEHOLD_IMAGE: 'registry.example.com/leasehold:1.2.3', LEASEHOLD_HTTP_PORT: '8000' });
    expect(custom.services['gateway-1']?.['image']).toBe('registry.example.com/leasehold:1.2.3');
    expect(custom.services['http-1']?.['ports']).toEqual(['127.0.0.1:8000:8080']);
  });
});
