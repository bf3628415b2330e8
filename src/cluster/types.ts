// Plain data the cluster's pure logic works on. No I/O types here: these values are what the
// Redis/Postgres drivers produce after validating what they read.

/** A valid lease as read from Redis (`lh:{g}:lease`). */
export interface Lease {
  readonly guildId: string;
  readonly owner: string;
  readonly epoch: number;
  /** Redis server time (ms) the lease was claimed or handed over. */
  readonly since: number;
}

/** A member as read from `lh:member:<podId>`. */
export interface Member {
  readonly podId: string;
  readonly addr: string;
  readonly role: 'gateway' | 'http';
  readonly pid: number;
  readonly started: number;
  readonly version: string;
  /** Ring parameters version string the member computes with (`RingParams.id`). */
  readonly ring: string;
  readonly ready: boolean;
  readonly draining: boolean;
}

export interface RingParams {
  readonly version: string;
  readonly vnodes: number;
  readonly hash: string;
}

/** One entry of `lh:events`. */
export interface ClusterEvent {
  readonly id: string;
  readonly type: ClusterEventType;
  readonly guild: string;
  readonly owner: string;
  readonly epoch: number | undefined;
  readonly from: string | undefined;
}

export const CLUSTER_EVENT_TYPES = [
  'claim',
  'handoff',
  'release',
  'force_release',
  'pin',
  'unpin',
  'cordon',
  'uncordon',
  'member_join',
  'member_update',
  'member_leave',
  'member_expire',
  'ring',
] as const;
export type ClusterEventType = (typeof CLUSTER_EVENT_TYPES)[number];

/**
 * The cluster as one pod sees it: what the ownership decision and the routing view need.
 * `members` are all live members (any role); ring membership is derived from them.
 */
export interface ClusterView {
  readonly members: ReadonlyMap<string, Member>;
  readonly cordons: ReadonlySet<string>;
  readonly pins: ReadonlyMap<string, string>;
  readonly ringParams: RingParams;
}
