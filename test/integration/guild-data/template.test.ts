// The production template, rendered, is a config the real litestream v0.3.13 accepts, for
// both replica kinds.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { litestreamBin, replicaTarget } from '../../../src/guild-data/index.js';
import { loadTemplate, renderConfig } from '../../../src/guild-data/litestream-config.js';
import { tempDirs, type TempDirs } from './helpers.js';

const run = promisify(execFile);
let dirs: TempDirs;
beforeEach(() => {
  dirs = tempDirs();
});
afterEach(() => dirs.cleanup());

describe('litestream.yml', () => {
  it.each([
    ['file', 'file:///var/lib/replicas'],
    ['s3', 's3://leasehold-replicas/prod'],
  ])('renders a config litestream accepts for a %s replica', async (kind, url) => {
    const target = replicaTarget(url);
    const dbs = ['111', '222'].map((g) => ({ dbPath: join(dirs.root, `${g}.sqlite3`), replica: target.location(g, 5) }));
    const cfg = join(dirs.root, `${kind}.yml`);
    writeFileSync(cfg, renderConfig(loadTemplate(), dbs, { monitorMs: 1000, syncMs: 1000 }));
    const { stdout } = await run(litestreamBin(), ['databases', '-config', cfg], { env: { ...process.env, S3_ENDPOINT: 'http://127.0.0.1:9000', S3_REGION: 'us-east-1' } });
    const rows = stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
    expect(rows).toEqual(dbs.map((d) => [d.dbPath, kind]));
  });
});
