// The kustomize overlays render with kubectl, every object is valid against the Kubernetes schemas,
// and the workloads make sense for leasehold: real roles, known variables, a config each role's
// loader accepts, probes on /healthz and /readyz, time to drain, no committed secret.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, ROLES, type Role } from '../../../src/config.js';
import { envOf, parseDockerfile } from './dockerfile.js';
import { asArr, asObj, defaultDrainTimeoutMs, isKnownEnv, isObj, parseYamlStream, readRepoFile, repoPath, type Obj } from './repo.js';

const run = promisify(execFile);
const KUBECTL = process.env['KUBECTL'] ?? 'kubectl';
const runtimeStage = parseDockerfile(readRepoFile('Dockerfile')).stages.at(-1)!;
const imageEnv = envOf(runtimeStage);
/** Where the image keeps the package root (package.json, lua/, litestream.yml): its WORKDIR. */
const appDir = runtimeStage.instructions.filter((i) => i.cmd === 'WORKDIR').at(-1)?.args;

/** Stand-ins for the values operators put into the Secrets (docs/deploy.md), valid for config.ts. */
const SECRET_SAMPLES: Readonly<Record<string, string>> = {
  REDIS_URL: 'redis://redis.internal.example.com:6379',
  DATABASE_URL: 'postgres://leasehold:password@postgres.internal.example.com:5432/leasehold',
  DISCORD_TOKEN: 'bot-token-from-the-secret',
  DISCORD_APPLICATION_ID: '100000000000000001',
  DISCORD_PUBLIC_KEY: 'ab'.repeat(32),
  INTERNAL_SECRET: 'internal-secret-one,internal-secret-two',
  ADMIN_TOKEN: 'admin-token-from-the-secret',
  AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'secret-example',
  S3_ENDPOINT: 'https://s3.example.com',
  S3_REGION: 'us-east-1',
};
/** Downward-API values a pod would see. */
const FIELD_SAMPLES: Readonly<Record<string, string>> = { 'metadata.name': 'leasehold-gateway-0', 'status.podIP': '10.1.2.3', 'metadata.namespace': 'leasehold' };

async function render(overlay: string): Promise<Obj[]> {
  try {
    const { stdout } = await run(KUBECTL, ['kustomize', repoPath('k8s/overlays', overlay)], { maxBuffer: 32 * 1024 * 1024 });
    return parseYamlStream(stdout).map((o, i) => asObj(o, `object ${i}`));
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT')
      throw new Error(`kubectl not found (${KUBECTL}): install Debian's kubernetes-client package (apt-get install -y kubernetes-client) or set KUBECTL to a kubectl binary`);
    throw err;
  }
}

type ModelClass = new (data: unknown) => { validate(): void };
async function modelFor(apiVersion: string, kind: string): Promise<ModelClass> {
  const base = `kubernetes-models/${apiVersion}`;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(/* @vite-ignore */ `${base}/${kind}`)) as Record<string, unknown>;
  } catch (err) {
    if (!existsSync(repoPath('node_modules/kubernetes-models')))
      throw new Error('the npm package kubernetes-models is not installed: add kubernetes-models@^4 as a devDependency (v4 runs on Node 20; v5 needs Node 22) so every rendered object is validated against the Kubernetes schemas');
    throw err;
  }
  const model = mod[kind];
  if (typeof model !== 'function') throw new Error(`${base}/${kind} exports no ${kind}`);
  return model as ModelClass;
}

const metaName = (o: Obj) => String(asObj(o['metadata'], 'metadata')['name']);
const find = (objs: Obj[], kind: string, name: string): Obj => {
  const o = objs.find((x) => x['kind'] === kind && metaName(x) === name);
  if (!o) throw new Error(`no ${kind} ${name} in the rendered output`);
  return o;
};
const podSpecOf = (workload: Obj): Obj => asObj(asObj(asObj(workload['spec'], 'spec')['template'], 'template')['spec'], 'pod spec');
const podLabelsOf = (workload: Obj): Obj => asObj(asObj(asObj(asObj(workload['spec'], 'spec')['template'], 'template')['metadata'], 'meta')['labels'], 'labels');
const containersOf = (workload: Obj): Obj[] => asArr(podSpecOf(workload)['containers'], 'containers').map((c) => asObj(c, 'container'));
const selects = (selector: Obj, labels: Obj): boolean => Object.entries(selector).every(([k, v]) => labels[k] === v);

interface EnvEntry {
  readonly name: string;
  readonly value?: string;
  readonly secret?: { name: string; key: string };
  readonly field?: string;
}
const envEntries = (c: Obj): EnvEntry[] =>
  (Array.isArray(c['env']) ? c['env'] : []).map((e) => {
    const x = asObj(e, 'env');
    const from = isObj(x['valueFrom']) ? x['valueFrom'] : {};
    const secret = isObj(from['secretKeyRef']) ? { name: String(from['secretKeyRef']['name']), key: String(from['secretKeyRef']['key']) } : undefined;
    const field = isObj(from['fieldRef']) ? String(from['fieldRef']['fieldPath']) : undefined;
    return { name: String(x['name']), ...(typeof x['value'] === 'string' ? { value: x['value'] } : {}), ...(secret ? { secret } : {}), ...(field ? { field } : {}) };
  });
const envFromRefs = (c: Obj, kind: 'configMapRef' | 'secretRef'): string[] =>
  (Array.isArray(c['envFrom']) ? c['envFrom'] : []).map((e) => asObj(e, 'envFrom')[kind]).filter(isObj).map((r) => String(r['name']));

/** The environment a container would see: image ENV, envFrom ConfigMaps and Secrets, then env with $(VAR) expanded. */
function effectiveEnv(objs: Obj[], c: Obj): Record<string, string> {
  const env: Record<string, string> = { ...imageEnv };
  for (const cm of envFromRefs(c, 'configMapRef')) Object.assign(env, asObj(find(objs, 'ConfigMap', cm)['data'], `${cm} data`));
  for (const s of envFromRefs(c, 'secretRef')) for (const k of secretKeysDocumented(s)) env[k] = SECRET_SAMPLES[k] ?? 'x';
  for (const e of envEntries(c)) {
    if (e.secret) env[e.name] = SECRET_SAMPLES[e.secret.key] ?? `sample-${e.secret.key}`;
    else if (e.field) env[e.name] = FIELD_SAMPLES[e.field] ?? '';
    else env[e.name] = (e.value ?? '').replace(/\$\(([A-Za-z_]\w*)\)/g, (_m, v: string) => env[v] ?? `$(${v})`);
  }
  return env;
}

const deployDoc = existsSync(repoPath('docs/deploy.md')) ? readRepoFile('docs/deploy.md') : '';
/** Keys docs/deploy.md puts into a Secret with `kubectl create secret generic <name> --from-literal=KEY=...`. */
function secretKeysDocumented(name: string): string[] {
  const cmd = new RegExp(`kubectl[^\\n]*create secret generic ${name}\\b((?:[^\\n]*\\\\\\n)*[^\\n]*)`).exec(deployDoc);
  return cmd ? [...(cmd[1] ?? '').matchAll(/--from-literal=([A-Za-z_][A-Za-z0-9_]*)=/g)].map((m) => m[1] as string) : [];
}

describe.each([
  { overlay: 'dev', namespace: 'leasehold-dev' },
  { overlay: 'prod', namespace: 'leasehold' },
])('k8s/overlays/$overlay', ({ overlay, namespace }) => {
  let objs: Obj[];
  beforeAll(async () => {
    objs = await render(overlay);
  });
  const gateway = () => find(objs, 'StatefulSet', 'leasehold-gateway');
  const http = () => find(objs, 'Deployment', 'leasehold-http');
  const workloads = () => [
    { w: gateway(), role: 'gateway' as Role },
    { w: http(), role: 'http' as Role },
  ];

  it('renders the gateway StatefulSet, its headless Service, the http Deployment, Service and HPA, PDBs and ConfigMaps into one namespace', () => {
    const kinds = objs.map((o) => `${String(o['kind'])}/${metaName(o)}`);
    for (const k of ['Namespace/' + namespace, 'StatefulSet/leasehold-gateway', 'Service/leasehold-gateway', 'Deployment/leasehold-http', 'Service/leasehold-http',
      'HorizontalPodAutoscaler/leasehold-http', 'PodDisruptionBudget/leasehold-gateway', 'PodDisruptionBudget/leasehold-http', 'ServiceAccount/leasehold'])
      expect(kinds).toContain(k);
    for (const o of objs.filter((x) => x['kind'] !== 'Namespace')) expect(asObj(o['metadata'], 'metadata')['namespace'], String(o['kind'])).toBe(namespace);
  });

  it('every rendered object is valid against the Kubernetes schemas (kubernetes-models)', async () => {
    const problems: string[] = [];
    for (const o of objs) {
      const Model = await modelFor(String(o['apiVersion']), String(o['kind']));
      try {
        new Model(o).validate();
      } catch (err) {
        problems.push(`${String(o['kind'])}/${metaName(o)}: ${(err as Error).message}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('commits no Secret with data: secrets are only referenced', () => {
    const secrets = objs.filter((o) => o['kind'] === 'Secret');
    expect(secrets.filter((s) => s['data'] !== undefined || s['stringData'] !== undefined).map(metaName)).toEqual([]);
  });

  it('runs real roles from one image', () => {
    const images = new Set<string>();
    for (const { w, role } of workloads()) {
      const [c] = containersOf(w);
      expect(asArr(c!['args'], 'args')).toEqual([role]);
      expect(ROLES).toContain(role);
      expect(c!['command'], 'the image ENTRYPOINT runs the CLI').toBeUndefined();
      images.add(String(c!['image']));
    }
    expect(images.size).toBe(1);
    if (overlay === 'prod') expect([...images][0]).toMatch(/:[\w.-]+$/);
    expect([...images][0]).not.toMatch(/:latest$/);
  });

  it('sets only variables src/config.ts knows or Litestream reads; helpers only to build others', () => {
    for (const { w } of workloads()) {
      for (const c of containersOf(w)) {
        const entries = envEntries(c);
        for (const [i, e] of entries.entries()) {
          if (isKnownEnv(e.name)) continue;
          const usedLater = entries.slice(i + 1).some((x) => x.value?.includes(`$(${e.name})`));
          expect(usedLater, `${String(c['name'])}: ${e.name} is neither a known variable nor used to build one`).toBe(true);
        }
        for (const cm of envFromRefs(c, 'configMapRef')) {
          expect(Object.keys(asObj(find(objs, 'ConfigMap', cm)['data'], 'data')).filter((k) => !isKnownEnv(k)), cm).toEqual([]);
        }
        for (const e of entries.filter((x) => x.secret)) expect(isKnownEnv(e.secret!.key), `secret key ${e.secret!.key}`).toBe(true);
      }
    }
  });

  it("gives each role a configuration its config loader accepts once the documented Secrets exist", () => {
    for (const { w, role } of workloads()) {
      const env = effectiveEnv(objs, containersOf(w)[0]!);
      expect(() => loadConfig(role, env), role).not.toThrow();
    }
  });

  it('documents a `kubectl create secret` command for every Secret key a pod reads', () => {
    expect(deployDoc, 'docs/deploy.md exists').not.toBe('');
    for (const { w } of workloads()) {
      for (const c of containersOf(w)) {
        for (const e of envEntries(c).filter((x) => x.secret)) expect(secretKeysDocumented(e.secret!.name), `${e.secret!.name}/${e.secret!.key}`).toContain(e.secret!.key);
        for (const s of envFromRefs(c, 'secretRef')) {
          const keys = secretKeysDocumented(s);
          expect(keys.length, `docs create Secret ${s}`).toBeGreaterThan(0);
          expect(keys.filter((k) => !isKnownEnv(k)), s).toEqual([]);
        }
      }
    }
  });

  it('probes /healthz for liveness and /readyz for readiness on the port the pod listens on', () => {
    for (const { w } of workloads()) {
      const c = containersOf(w)[0]!;
      const env = effectiveEnv(objs, c);
      const ports = asArr(c['ports'], 'ports').map((p) => asObj(p, 'port'));
      expect(ports.map((p) => String(p['containerPort']))).toEqual([env['PORT']]);
      const portOf = (probe: string) => {
        const get = asObj(asObj(c[probe], probe)['httpGet'], `${probe}.httpGet`);
        const port = get['port'];
        return { path: get['path'], port: typeof port === 'string' ? ports.find((p) => p['name'] === port)?.['containerPort'] : port };
      };
      expect(portOf('livenessProbe')).toEqual({ path: '/healthz', port: Number(env['PORT']) });
      expect(portOf('readinessProbe')).toEqual({ path: '/readyz', port: Number(env['PORT']) });
      if (c['startupProbe'] !== undefined) expect(portOf('startupProbe').path).toBe('/healthz');
    }
  });

  it('gives a gateway longer than DRAIN_TIMEOUT_MS to drain after SIGTERM', () => {
    const env = effectiveEnv(objs, containersOf(gateway())[0]!);
    const drainMs = Number(env['DRAIN_TIMEOUT_MS'] ?? defaultDrainTimeoutMs);
    expect(Number(podSpecOf(gateway())['terminationGracePeriodSeconds']) * 1000).toBeGreaterThan(drainMs);
  });

  it('names each gateway by its pod and advertises it through the headless Service', () => {
    const spec = asObj(gateway()['spec'], 'spec');
    const c = containersOf(gateway())[0]!;
    const entries = envEntries(c);
    expect(entries.find((e) => e.name === 'POD_NAME')?.field).toBe('metadata.name');
    expect(entries.find((e) => e.name === 'POD_ID')?.value).toBe('$(POD_NAME)');
    const env = effectiveEnv(objs, c);
    expect(entries.find((e) => e.name === 'ADVERTISE_ADDR')?.value).toBe(`$(POD_NAME).${String(spec['serviceName'])}:${env['PORT']}`);
    const svc = asObj(find(objs, 'Service', String(spec['serviceName']))['spec'], 'service spec');
    expect(svc['clusterIP']).toBe('None');
    expect(svc['publishNotReadyAddresses']).toBe(true);
    expect(selects(asObj(svc['selector'], 'selector'), podLabelsOf(gateway()))).toBe(true);
    expect(asArr(svc['ports'], 'ports').map((p) => asObj(p, 'p')['port'])).toEqual([Number(env['PORT'])]);
  });

  it('advertises each http pod by its IP on the port it listens on', () => {
    const c = containersOf(http())[0]!;
    const entries = envEntries(c);
    expect(entries.find((e) => e.name === 'POD_IP')?.field).toBe('status.podIP');
    expect(entries.find((e) => e.name === 'ADVERTISE_ADDR')?.value).toBe(`$(POD_IP):${effectiveEnv(objs, c)['PORT']}`);
  });

  it("keeps each gateway's guild files on its own volume and mounts litestream.yml from the repository's template", () => {
    const spec = asObj(gateway()['spec'], 'spec');
    const c = containersOf(gateway())[0]!;
    const env = effectiveEnv(objs, c);
    const mounts = asArr(c['volumeMounts'], 'mounts').map((m) => asObj(m, 'mount'));
    const dataMount = mounts.find((m) => m['mountPath'] === env['DATA_DIR']);
    const claims = asArr(spec['volumeClaimTemplates'], 'claims').map((t) => metaName(asObj(t, 'claim')));
    expect(claims).toContain(dataMount?.['name']);
    // The gateway reads the template from the package root (src/paths.ts), i.e. the image's WORKDIR.
    const ls = mounts.find((m) => m['mountPath'] === `${String(appDir)}/litestream.yml`);
    expect(ls?.['subPath']).toBe('litestream.yml');
    const volume = asArr(podSpecOf(gateway())['volumes'], 'volumes').map((v) => asObj(v, 'volume')).find((v) => v['name'] === ls?.['name']);
    const cm = find(objs, 'ConfigMap', String(asObj(volume?.['configMap'], 'configMap')['name']));
    expect(existsSync(repoPath('litestream.yml')), "the repository's litestream.yml exists").toBe(true);
    expect(asObj(cm['data'], 'data')['litestream.yml'], 'k8s/base/litestream.yml must be a copy of ./litestream.yml').toBe(readRepoFile('litestream.yml'));
    expect(env['REPLICA_URL']).toMatch(/^s3:\/\//);
  });

  it('runs every pod as non-root without privilege escalation', () => {
    for (const { w } of workloads()) {
      expect(asObj(podSpecOf(w)['securityContext'], 'securityContext')['runAsNonRoot']).toBe(true);
      for (const c of containersOf(w)) expect(asObj(c['securityContext'], 'sc')['allowPrivilegeEscalation']).toBe(false);
    }
  });

  it('scales http pods between 2 and 10 on CPU, which the pods request', () => {
    const hpa = asObj(find(objs, 'HorizontalPodAutoscaler', 'leasehold-http')['spec'], 'hpa');
    expect(asObj(hpa['scaleTargetRef'], 'ref')).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'leasehold-http' });
    expect([hpa['minReplicas'], hpa['maxReplicas']]).toEqual([2, 10]);
    expect(asArr(hpa['metrics'], 'metrics').map((m) => asObj(asObj(m, 'm')['resource'], 'r')['name'])).toEqual(['cpu']);
    expect(asObj(http()['spec'], 'spec')['replicas'], 'the HPA owns the replica count').toBeUndefined();
    expect(asObj(asObj(containersOf(http())[0]!['resources'], 'resources')['requests'], 'requests')['cpu']).toBeDefined();
  });

  it('selects the right pods with every Service, PDB and workload selector', () => {
    const pods = { gateway: podLabelsOf(gateway()), http: podLabelsOf(http()) };
    for (const { w } of workloads()) expect(selects(asObj(asObj(asObj(w['spec'], 's')['selector'], 'sel')['matchLabels'], 'ml'), podLabelsOf(w))).toBe(true);
    for (const [name, target] of [['leasehold-gateway', 'gateway'], ['leasehold-http', 'http']] as const) {
      const pdb = asObj(asObj(asObj(find(objs, 'PodDisruptionBudget', name)['spec'], 'pdb')['selector'], 'sel')['matchLabels'], 'ml');
      expect(selects(pdb, pods[target]), `PDB ${name}`).toBe(true);
      expect(selects(pdb, pods[target === 'gateway' ? 'http' : 'gateway']), `PDB ${name} selects only ${target} pods`).toBe(false);
      const svc = asObj(asObj(find(objs, 'Service', name)['spec'], 'svc')['selector'], 'sel');
      expect(selects(svc, pods[target]), `Service ${name}`).toBe(true);
      expect(selects(svc, pods[target === 'gateway' ? 'http' : 'gateway']), `Service ${name} selects only ${target} pods`).toBe(false);
    }
  });
});
