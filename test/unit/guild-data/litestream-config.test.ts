import { describe, expect, it } from 'vitest';
import { goDuration, loadTemplate, parseTemplate, renderConfig } from '../../../src/guild-data/litestream-config.js';
import { replicaTarget } from '../../../src/guild-data/replica-target.js';

describe('litestream config rendering', () => {
  it('repeats the template entry once per guild, each to its own epoch path', () => {
    const t = loadTemplate();
    const target = replicaTarget('file:///var/replicas');
    const text = renderConfig(
      t,
      [
        { dbPath: '/data/guilds/1.sqlite3', replica: target.location('1', 7) },
        { dbPath: '/data/guilds/2.sqlite3', replica: target.location('2', 9) },
      ],
      { monitorMs: 100, syncMs: 1000 },
    );
    expect(text.match(/- path: /g)).toHaveLength(2);
    expect(text).toContain('path: "/var/replicas/guilds/1/7"');
    expect(text).toContain('path: "/var/replicas/guilds/2/9"');
    expect(text).toContain('monitor-interval: "100ms"');
    expect(text).toContain('sync-interval: "1s"');
    expect(text).not.toMatch(/\{\{(db_path|replica_path|replica_type)\}\}\s*$/m);
    // Credentials stay references that Litestream expands itself.
    expect(text).toContain('"${AWS_SECRET_ACCESS_KEY}"');
  });

  it('maps an s3 REPLICA_URL to an s3 replica with the bucket and a per-epoch path', () => {
    const loc = replicaTarget('s3://bucket-1/prod/leasehold/').location('42', 3);
    expect(loc).toEqual({ type: 's3', bucket: 'bucket-1', path: 'prod/leasehold/guilds/42/3', url: 's3://bucket-1/prod/leasehold/guilds/42/3' });
    const text = renderConfig(loadTemplate(), [{ dbPath: '/d/42.sqlite3', replica: loc }], { monitorMs: 1000, syncMs: 1000 });
    expect(text).toContain('type: "s3"');
    expect(text).toContain('bucket: "bucket-1"');
  });

  it('refuses values Litestream would rewrite ($VAR expansion has no escape)', () => {
    expect(() => renderConfig(loadTemplate(), [{ dbPath: '/d/$HOME/1.sqlite3', replica: replicaTarget('file:///r').location('1', 1) }], { monitorMs: 1000, syncMs: 1000 })).toThrow(/\$/);
    expect(() => replicaTarget('file:///r$x')).toThrow(/\$/);
  });

  it('refuses a template without exactly one db entry or with unknown fields', () => {
    expect(() => parseTemplate('logging:\n  level: info\n')).toThrow(/dbs:/);
    expect(() => parseTemplate('dbs:\n  - path: {{db_path}}\n    replicas:\n      - path: {{replica_path}}\n  - path: x\n')).toThrow(/exactly one/);
    expect(() => parseTemplate('dbs:\n  - path: {{db_path}}\n    replicas:\n      - path: {{replica_path}}\n        foo: {{nope}}\n')).toThrow(/unknown fields: nope/);
  });

  it('keeps top-level keys after the dbs block', () => {
    const t = parseTemplate('a: 1\ndbs:\n  - path: {{db_path}}\n    replicas:\n      - path: {{replica_path}}\naddr: ":9090"\n');
    const text = renderConfig(t, [{ dbPath: '/x/1.sqlite3', replica: replicaTarget('file:///r').location('1', 1) }], { monitorMs: 1000, syncMs: 1000 });
    expect(text).toBe('a: 1\ndbs:\n  - path: "/x/1.sqlite3"\n    replicas:\n      - path: "/r/guilds/1/1"\naddr: ":9090"\n');
  });

  it('writes durations the way Go parses them', () => {
    expect(goDuration(100)).toBe('100ms');
    expect(goDuration(2000)).toBe('2s');
  });

  it('rejects replica URLs it cannot serve', () => {
    expect(() => replicaTarget('gcs://bucket')).toThrow(/file:|s3:/);
    expect(() => replicaTarget('s3:///prefix')).toThrow(/bucket/);
  });
});
