// The baseline's HTTP pod, as the seeds design it (implementation guide §3): check the Discord
// signature, ask the config service which pod owns the interaction's guild, forward the body to
// that gateway (`routeToGateway`, keep-alive pool as in "Performance tuning") and return its
// answer; an error is a 500. The guide's code asks on every request; the failure scenarios
// describe "an in-memory cache with 5 minute TTL" — `cacheTtlMs` picks either (0 = none).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Pool } from 'undici';
import { DiscordSignatureVerifier } from '../../src/http/discord-signature.js';
import type { Logger } from '../../src/log.js';
import { parseJson, readRawBody } from '../../src/runtime/raw-body.js';

export interface BaselineHttpOptions {
  readonly configServiceUrl: string;
  readonly publicKey: string;
  readonly cacheTtlMs: number;
  readonly logger: Logger;
}

export function createBaselineHttp(o: BaselineHttpOptions): { handler: (req: IncomingMessage, res: ServerResponse) => void; close(): Promise<void> } {
  const verifier = new DiscordSignatureVerifier(o.publicKey);
  const config = new Pool(o.configServiceUrl, { connections: 50, keepAliveTimeout: 60_000 });
  const gateways = new Map<string, Pool>();
  const cache = new Map<string, { podName: string; until: number }>();

  const ownerOf = async (guildId: string): Promise<string> => {
    const hit = cache.get(guildId);
    if (hit && hit.until > Date.now()) return hit.podName;
    const res = await config.request({ path: `/guild/${guildId}/assignment`, method: 'GET' });
    const body = (await res.body.json()) as { pod_name?: string; error?: string };
    if (res.statusCode !== 200 || !body.pod_name) throw new Error(`config service: ${res.statusCode} ${body.error ?? ''}`);
    if (o.cacheTtlMs > 0) cache.set(guildId, { podName: body.pod_name, until: Date.now() + o.cacheTtlMs });
    return body.pod_name;
  };
  const poolFor = (podName: string): Pool => {
    let p = gateways.get(podName);
    if (!p) {
      // The seeds' gateway URL is http://gateway-<id>.gateway-internal:3000; pod_name stands in for it.
      p = new Pool(`http://${podName}`, { connections: 50, keepAliveTimeout: 60_000 });
      gateways.set(podName, p);
    }
    return p;
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    const s = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) }).end(s);
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      try {
        if (req.method === 'GET' && req.url === '/healthz') return send(res, 200, { status: 'ok' });
        if (req.method !== 'POST' || req.url !== '/interactions') return send(res, 404, { error: 'not found' });
        const raw = await readRawBody(req);
        const sig = await verifier.check(header(req, 'x-signature-ed25519'), header(req, 'x-signature-timestamp'), raw, Date.now());
        if (!sig.ok) return send(res, 401, { error: sig.message });
        const body = parseJson(raw) as { type?: number; guild_id?: string };
        if (body.type === 1) return send(res, 200, { type: 1 });
        if (!body.guild_id) return send(res, 200, { type: 4, data: { content: 'Only in a server.' } });
        const owner = await ownerOf(body.guild_id);
        const r = await poolFor(owner).request({ path: '/webhooks/discord', method: 'POST', headers: { 'content-type': 'application/json' }, body: raw });
        const answer = await r.body.text();
        res.writeHead(r.statusCode, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) }).end(answer);
      } catch (err) {
        o.logger.warn({ err }, 'routing to the gateway failed');
        if (!res.headersSent) send(res, 500, { error: 'internal error' });
      }
    })();
  };
  return {
    handler,
    async close() {
      await Promise.all([config.close(), ...[...gateways.values()].map((p) => p.close())]);
    },
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
