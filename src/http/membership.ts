// The http pod as a cluster member (`lh:member:<pod>` with role http): a second live process
// under the same POD_ID is refused, and the portal lists the edges. Not on the ring.
import type { Logger } from '../log.js';
import type { ClusterClient } from '../cluster/client.js';
import { MemberClient } from '../cluster/members.js';
import { ringParamsId } from '../cluster/ring.js';
import type { RingParams } from '../cluster/types.js';

export interface EdgeMembership {
  stop(): Promise<void>;
}

export async function joinAsEdge(o: {
  readonly cluster: ClusterClient;
  readonly podId: string;
  readonly addr: string;
  readonly version: string;
  readonly ringParams: RingParams;
  /** Member key TTL (the gateways' lease TTL default). */
  readonly ttlMs: number;
  readonly logger: Logger;
}): Promise<EdgeMembership> {
  const member = new MemberClient(o.cluster.redis, o.cluster.scripts, o.cluster.keys, o.podId, o.ttlMs, o.cluster.maxLen);
  const fields = { addr: o.addr, role: 'http' as const, version: o.version, ring: ringParamsId(o.ringParams), ready: true, draining: false };
  await member.join(fields, o.logger, (ms) => new Promise((r) => setTimeout(r, ms)));
  const timer = setInterval(() => {
    member.heartbeat(fields).catch((err: unknown) => o.logger.warn({ err }, 'member heartbeat failed; retrying'));
  }, Math.max(100, Math.floor(o.ttlMs / 3)));
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await member.leave().catch((err: unknown) => o.logger.warn({ err }, 'leave failed; the member key will expire'));
    },
  };
}
