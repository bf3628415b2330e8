// Every metric leasehold exports, by its literal name (DESIGN §9). Dashboards and alerts are
// tested against this module's output, so names live here and nowhere else.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const reg = { registers: [registry] };
const fastBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const slowBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120];

export const metrics = {
  // cluster
  guildsOwned: new Gauge({ name: 'leasehold_guilds_owned', help: 'Guilds whose lease this pod holds (or, on http pods and admin, the mirror per owner).', labelNames: ['pod'] as const, ...reg }),
  guildsUnowned: new Gauge({ name: 'leasehold_guilds_unowned', help: 'Known guilds with no valid lease.', ...reg }),
  ringMembers: new Gauge({ name: 'leasehold_ring_members', help: 'Gateways on the ring (live, ready, not draining, not cordoned, same ring parameters).', ...reg }),
  leaseClaims: new Counter({ name: 'leasehold_lease_claims_total', help: 'Claim attempts by result.', labelNames: ['result'] as const, ...reg }),
  reconciles: new Counter({ name: 'leasehold_reconciles_total', help: 'Full reconciles (a SCAN of every lease key) by why: start, periodic, stream_gap, member_gone, rejoined. Many stream_gap ones mean this pod reads lh:events too slowly for its length.', labelNames: ['reason'] as const, ...reg }),
  leaseLost: new Counter({ name: 'leasehold_lease_lost_total', help: 'Leases this pod lost, by reason.', labelNames: ['reason'] as const, ...reg }),
  leaseRenewSeconds: new Histogram({ name: 'leasehold_lease_renew_seconds', help: 'Time to renew all of this pod\'s leases (all chunks).', buckets: fastBuckets, ...reg }),
  scriptSeconds: new Histogram({ name: 'leasehold_script_seconds', help: 'Round-trip time of a Lua script call.', labelNames: ['script'] as const, buckets: fastBuckets, ...reg }),
  evictionPolicyOk: new Gauge({ name: 'leasehold_redis_eviction_policy_ok', help: '1 when Redis runs with maxmemory-policy noeviction.', ...reg }),
  pinsIgnored: new Gauge({ name: 'leasehold_pins_ignored', help: 'Pins naming a pod that is not a live ring member.', ...reg }),
  storeQueueDepth: new Gauge({ name: 'leasehold_store_queue_depth', help: 'Postgres records waiting to be written (Postgres unreachable).', ...reg }),
  // gateway
  handoffs: new Counter({ name: 'leasehold_handoffs_total', help: 'Planned handoffs by result.', labelNames: ['result'] as const, ...reg }),
  handoffPauseSeconds: new Histogram({ name: 'leasehold_handoff_pause_seconds', help: 'Time a guild applied no events during a handoff.', buckets: fastBuckets, ...reg }),
  failoverSeconds: new Histogram({ name: 'leasehold_failover_seconds', help: 'Time from a lease becoming claimable to the guild serving again on this pod.', buckets: slowBuckets, ...reg }),
  events: new Counter({ name: 'leasehold_events_total', help: 'Discord dispatches by outcome.', labelNames: ['outcome'] as const, ...reg }),
  eventBufferBytes: new Gauge({ name: 'leasehold_event_buffer_bytes', help: 'Bytes of dispatches buffered for failover replay.', ...reg }),
  identifyBudgetFloor: new Gauge({ name: 'leasehold_identify_budget_floor', help: 'IDENTIFY_BUDGET_FLOOR: identifies stop when the remaining budget reaches it.', ...reg }),
  gatewaySessions: new Gauge({ name: 'leasehold_gateway_sessions', help: 'Discord sessions of this gateway by status (ready, resuming, connecting, disconnected).', labelNames: ['status'] as const, ...reg }),
  identifyRemaining: new Gauge({ name: 'leasehold_identify_remaining', help: 'Identifies left in Discord\'s daily session budget.', ...reg }),
  restRequests: new Counter({ name: 'leasehold_rest_requests_total', help: 'Discord REST requests by status.', labelNames: ['status'] as const, ...reg }),
  // guild data
  restoreSeconds: new Histogram({ name: 'leasehold_restore_seconds', help: 'Time to restore one guild from its replica.', buckets: slowBuckets, ...reg }),
  restoreFailures: new Counter({ name: 'leasehold_restore_failures_total', help: 'Restores that failed (missing or unreadable replica).', ...reg }),
  restoreFallbacks: new Counter({ name: 'leasehold_restore_fallbacks_total', help: 'Restores whose latest replica state was unreadable and that used an earlier WAL index the replay buffer covers.', ...reg }),
  replicationLagSeconds: new Gauge({ name: 'leasehold_replication_lag_seconds', help: 'Age of the oldest write not yet replicated.', ...reg }),
  litestreamRestarts: new Counter({ name: 'leasehold_litestream_restarts_total', help: 'Litestream process restarts by reason.', labelNames: ['reason'] as const, ...reg }),
  // http
  forwardSeconds: new Histogram({ name: 'leasehold_forward_seconds', help: 'Edge → owner forwarding time by outcome.', labelNames: ['outcome'] as const, buckets: fastBuckets, ...reg }),
  interactions: new Counter({ name: 'leasehold_interactions_total', help: 'Interactions by outcome.', labelNames: ['outcome'] as const, ...reg }),
  interactionDeadlineMisses: new Counter({ name: 'leasehold_interaction_deadline_misses_total', help: 'Interactions whose first response left after Discord\'s 3 s deadline.', ...reg }),
} as const;

/** Time an async call into a histogram (seconds). */
export async function timed<T>(h: Histogram<string>, labels: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const end = h.startTimer(labels);
  try {
    return await fn();
  } finally {
    end();
  }
}
