// The Dockerfile, checked statically (no Docker engine runs here) and by running its HEALTHCHECK
// command against a real HTTP server: one image for every role, production dependencies only,
// non-root, Litestream v0.3.13, a health check on /healthz.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ROLES } from '../../../src/config.js';
import { envOf, execForm, parseDockerfile, type Stage } from './dockerfile.js';
import { isKnownEnv, readRepoFile, repoPath } from './repo.js';

const run = promisify(execFile);
const dockerfile = parseDockerfile(readRepoFile('Dockerfile'));
const runtime = dockerfile.stages.at(-1) as Stage;
const ins = (stage: Stage, cmd: string) => stage.instructions.filter((i) => i.cmd === cmd);
const stageNamed = (name: string) => {
  const s = dockerfile.stages.find((x) => x.name === name);
  if (!s) throw new Error(`no stage named ${name}`);
  return s;
};
const copiesFrom = (stage: Stage) =>
  ins(stage, 'COPY').map((c) => ({ from: /--from=(\S+)/.exec(c.args)?.[1], parts: c.args.split(/\s+/).filter((p) => !p.startsWith('--')) }));

/** Whether .dockerignore lets `path` into the build context (last matching pattern wins). */
function inContext(path: string, patterns: string[]): boolean {
  let included = true;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const pattern = (negate ? raw.slice(1) : raw).replace(/\/$/, '');
    const re = new RegExp(`^${pattern.split('**').map((p) => p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('.*')}(/.*)?$`);
    if (re.test(path)) included = negate;
  }
  return included;
}

describe('the Dockerfile', () => {
  it('builds every stage on a current Node LTS slim image', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(3);
    for (const s of dockerfile.stages) expect(s.from, `stage ${s.name ?? '?'}`).toMatch(/^node:(22|24)(\.\d+)*-bookworm-slim$/);
  });

  it('compiles in a build stage and ships only production dependencies built for the runtime base', () => {
    const build = stageNamed('build');
    expect(ins(build, 'RUN').some((r) => /\bnpm ci\b/.test(r.args))).toBe(true);
    expect(ins(build, 'RUN').some((r) => /\btsc -p tsconfig\.json\b|npm run build/.test(r.args))).toBe(true);
    const deps = stageNamed('deps');
    const depsInstall = ins(deps, 'RUN').find((r) => /\bnpm ci\b/.test(r.args));
    expect(depsInstall?.args).toMatch(/--omit=dev/);
    // Scripts are skipped (the root `prepare` needs tsc), so the native addon must be rebuilt.
    if (/--ignore-scripts/.test(depsInstall?.args ?? '')) expect(depsInstall?.args).toMatch(/npm rebuild better-sqlite3/);
    const copies = copiesFrom(runtime);
    expect(copies).toContainEqual({ from: 'deps', parts: ['/app/node_modules', './node_modules'] });
    expect(copies).toContainEqual({ from: 'build', parts: ['/app/dist/src', './dist/src'] });
    expect(ins(runtime, 'RUN').some((r) => /\bnpm (ci|install)\b/.test(r.args)), 'no install in the runtime stage').toBe(false);
    expect(readRepoFile('Dockerfile')).not.toMatch(/\bnpm install\b/);
  });

  it('copies what the package needs at run time (package.json, lua/, litestream.yml) and the context holds it', () => {
    const patterns = readRepoFile('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    const sources = dockerfile.stages.flatMap((s) => copiesFrom(s).filter((c) => c.from === undefined).flatMap((c) => c.parts.slice(0, -1)));
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'tsconfig.json', 'src', 'lua', 'litestream.yml']));
    for (const src of sources) {
      expect(existsSync(repoPath(src)), `${src} exists in the repository`).toBe(true);
      expect(inContext(src, patterns), `${src} is in the build context`).toBe(true);
    }
    for (const heavy of ['node_modules', 'dist', '.git', 'test', 'data']) expect(inContext(heavy, patterns), `${heavy} stays out of the context`).toBe(false);
  });

  it('runs as a non-root user', () => {
    const user = ins(runtime, 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
  });

  it('ships Litestream v0.3.13 from the npm package the tests use, never the v0.5 line', async () => {
    const text = readRepoFile('Dockerfile');
    expect(text).toMatch(/node_modules\/@flydotio\/litestream-linux-x64\/litestream/);
    expect(text).toMatch(/litestream version \| grep -qx 'v0\.3\.13'/);
    expect(text).not.toMatch(/litestream\/litestream:(?!0\.3\.13)/);
    const pkg = JSON.parse(readRepoFile('package.json')) as { dependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies), 'litestream is a runtime dependency, so npm ci --omit=dev installs it').toContain('@flydotio/litestream-linux-x64');
    const { stdout } = await run(repoPath('node_modules/@flydotio/litestream-linux-x64/litestream'), ['version']);
    expect(stdout.trim()).toBe('v0.3.13');
  });

  it('is one image for every role: node dist/src/cli.js <role>, gateway by default', () => {
    const entrypoint = execForm(ins(runtime, 'ENTRYPOINT').at(-1)?.args ?? '', 'ENTRYPOINT');
    const cmd = execForm(ins(runtime, 'CMD').at(-1)?.args ?? '', 'CMD');
    const pkg = JSON.parse(readRepoFile('package.json')) as { bin: Record<string, string> };
    expect(entrypoint).toEqual(['node', pkg.bin['leasehold']]);
    expect(cmd).toEqual(['gateway']);
    expect(ROLES).toContain(cmd[0]);
  });

  it('sets only known variables, a fixed PORT that it exposes, and a wildcard HOST', () => {
    const env = envOf(runtime);
    expect(Object.keys(env).filter((k) => !isKnownEnv(k))).toEqual([]);
    expect(env['PORT']).toBe('8080');
    expect(env['HOST']).toBe('0.0.0.0');
    expect(ins(runtime, 'EXPOSE').map((e) => e.args)).toEqual([env['PORT']]);
  });
});

describe("the image's HEALTHCHECK command", () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  const healthcheck = (): string[] => {
    const hc = ins(runtime, 'HEALTHCHECK').at(-1);
    expect(hc?.args).toMatch(/--interval=\d+s/);
    return execForm(hc?.args ?? '', 'HEALTHCHECK CMD');
  };
  const serveStatus = async (status: number): Promise<{ port: number; paths: string[] }> => {
    const paths: string[] = [];
    server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(status).end();
    });
    await new Promise<void>((resolve) => (server as Server).listen(0, '127.0.0.1', resolve));
    return { port: (server.address() as AddressInfo).port, paths };
  };
  const runCheck = async (port: number): Promise<number> => {
    const [bin, ...args] = healthcheck();
    expect(bin).toBe('node');
    try {
      await run(process.execPath, args, { env: { ...process.env, PORT: String(port) }, timeout: 10_000 });
      return 0;
    } catch (err) {
      return (err as { code?: number }).code ?? -1;
    }
  };

  it('passes when /healthz answers 200 on PORT', async () => {
    const { port, paths } = await serveStatus(200);
    expect(await runCheck(port)).toBe(0);
    expect(paths).toEqual(['/healthz']);
  });

  it('fails when /healthz answers an error', async () => {
    const { port } = await serveStatus(503);
    expect(await runCheck(port)).toBe(1);
  });

  it('fails when nothing listens', async () => {
    const { port } = await serveStatus(200);
    await new Promise<void>((resolve) => (server as Server).close(() => resolve()));
    server = undefined;
    expect(await runCheck(port)).toBe(1);
  });

  it('reads the port from the same PORT the image sets', () => {
    expect(healthcheck().join(' ')).toMatch(/process\.env\.PORT\|\|8080/);
    expect(readFileSync(repoPath('Dockerfile'), 'utf8')).toMatch(/PORT=8080/);
  });
});
