// The rebalance plan (DESIGN §4): every guild whose lease owner differs from its desired owner,
// with guild counts per pod before and after. Pure over one ClusterSnapshot; the moves themselves
// are the gateways' ownership loops handing guilds off, so planning never changes anything.
import { Placement } from '../cluster/placement.js';
import type { ClusterSnapshot } from './operations.js';

export interface PlannedMove {
  readonly guildId: string;
  readonly from: string;
  readonly to: string;
  readonly epoch: number;
  /** Why it moves: a live pin, or the ring. */
  readonly reason: 'pin' | 'ring';
}

export interface RebalancePlan {
  readonly moves: readonly PlannedMove[];
  /** Leases with no desired owner at all (the ring is empty): nothing can take them. */
  readonly stuck: readonly { readonly guildId: string; readonly owner: string }[];
  /** Leased guilds per pod now and once the moves are done (every ring member and lease owner). */
  readonly before: Readonly<Record<string, number>>;
  readonly after: Readonly<Record<string, number>>;
  readonly ringMembers: readonly string[];
  /** max/mean guilds per ring member after the moves (1 = perfectly even). */
  readonly imbalanceAfter: number;
}

export function planRebalance(s: ClusterSnapshot): RebalancePlan {
  const placement = new Placement({ members: s.members, cordons: new Set(s.cordons.keys()), pins: s.pins, ringParams: s.ringParams });
  const before = new Map<string, number>();
  const after = new Map<string, number>();
  for (const pod of placement.ringMembers) {
    before.set(pod, 0);
    after.set(pod, 0);
  }
  const moves: PlannedMove[] = [];
  const stuck: { guildId: string; owner: string }[] = [];
  for (const l of s.leases) {
    before.set(l.owner, (before.get(l.owner) ?? 0) + 1);
    const d = placement.desiredOwner(l.guildId);
    const to = d.owner;
    if (to === undefined) {
      stuck.push({ guildId: l.guildId, owner: l.owner });
      after.set(l.owner, (after.get(l.owner) ?? 0) + 1);
      continue;
    }
    after.set(to, (after.get(to) ?? 0) + 1);
    if (!after.has(l.owner)) after.set(l.owner, 0);
    if (to !== l.owner) moves.push({ guildId: l.guildId, from: l.owner, to, epoch: l.epoch, reason: d.pin?.honoured ? 'pin' : 'ring' });
  }
  const ring = placement.ringMembers;
  const onRing = ring.map((p) => after.get(p) ?? 0);
  const total = onRing.reduce((a, b) => a + b, 0);
  const imbalanceAfter = ring.length === 0 || total === 0 ? 1 : Math.max(...onRing) / (total / ring.length);
  return {
    moves: moves.sort((a, b) => cmp(a.guildId, b.guildId)),
    stuck: stuck.sort((a, b) => cmp(a.guildId, b.guildId)),
    before: sorted(before),
    after: sorted(after),
    ringMembers: ring,
    imbalanceAfter,
  };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function sorted(m: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...m].sort(([a], [b]) => cmp(a, b)));
}
