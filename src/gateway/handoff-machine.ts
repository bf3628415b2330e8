// The target side of a planned handoff as a pure state machine (DESIGN §4). Inputs arrive from
// three places in any order — the source's calls on the internal API (prepare, data, commit),
// lh:events (the lease moved to us), and timers — and each step says what the driver must do.
//
//   none ──prepare──▶ buffering ──data──▶ received ──commit | lease moved to us──▶ live
//     ▲                  │                    │
//     └──── abort / timeout / lease lost ─────┘
//
// While buffering or received, the guild's dispatches are kept (not applied: the source still
// applies them until it pauses). On going live the driver commits the epoch, installs the copy
// and replays the buffer; dedupe makes the overlap with what the source applied harmless.

export type TargetState =
  | { readonly kind: 'none' }
  | { readonly kind: 'buffering'; readonly from: string; readonly fromEpoch: number; readonly since: number }
  | { readonly kind: 'received'; readonly from: string; readonly fromEpoch: number; readonly since: number; readonly copyId: string }
  | { readonly kind: 'live'; readonly epoch: number };

export type TargetInput =
  | { readonly kind: 'prepare'; readonly from: string; readonly fromEpoch: number }
  | { readonly kind: 'data'; readonly from: string; readonly fromEpoch: number; readonly copyId: string }
  /** The source's commit call, or a handoff entry on lh:events naming us as owner. */
  | { readonly kind: 'moved'; readonly from: string | undefined; readonly epoch: number }
  | { readonly kind: 'abort'; readonly from: string; readonly fromEpoch: number }
  | { readonly kind: 'tick' };

export type TargetAction =
  | { readonly kind: 'start_buffering' }
  | { readonly kind: 'discard'; readonly reason: string; readonly copyId?: string }
  /** Adopt the lease at `epoch` (commit it to Postgres), install the copy, replay the buffer. */
  | { readonly kind: 'go_live'; readonly epoch: number; readonly copyId: string }
  /** The lease came to us without a copy: treat it as a claim (restore from the replica, replay). */
  | { readonly kind: 'restore_live'; readonly epoch: number }
  | { readonly kind: 'reject'; readonly reason: string };

export interface Step {
  readonly state: TargetState;
  readonly actions: readonly TargetAction[];
}

export const NONE: TargetState = { kind: 'none' };

/** One step. `now` is monotonic ms; a handoff that makes no progress for `timeoutMs` is dropped. */
export function stepTarget(s: TargetState, input: TargetInput, now: number, timeoutMs: number): Step {
  const same = (x: { from: string; fromEpoch: number }) => s.kind !== 'none' && s.kind !== 'live' && s.from === x.from && s.fromEpoch === x.fromEpoch;
  switch (input.kind) {
    case 'prepare':
      if (s.kind === 'none' || s.kind === 'live') return { state: { kind: 'buffering', from: input.from, fromEpoch: input.fromEpoch, since: now }, actions: [{ kind: 'start_buffering' }] };
      if (same(input)) return { state: s, actions: [] }; // a retried prepare
      return { state: s, actions: [{ kind: 'reject', reason: `another handoff is in progress (from ${s.kind === 'buffering' || s.kind === 'received' ? `${s.from}@${s.fromEpoch}` : '?'})` }] };
    case 'data':
      if (s.kind === 'buffering' && same(input)) return { state: { kind: 'received', from: s.from, fromEpoch: s.fromEpoch, since: s.since, copyId: input.copyId }, actions: [] };
      if (s.kind === 'received' && same(input)) return { state: { ...s, copyId: input.copyId }, actions: [{ kind: 'discard', reason: 'replaced by a resent copy', copyId: s.copyId }] };
      return { state: s, actions: [{ kind: 'reject', reason: 'no matching prepare' }, { kind: 'discard', reason: 'unexpected copy', copyId: input.copyId }] };
    case 'moved':
      if (s.kind === 'live' && s.epoch >= input.epoch) return { state: s, actions: [] };
      if (s.kind === 'received') return { state: { kind: 'live', epoch: input.epoch }, actions: [{ kind: 'go_live', epoch: input.epoch, copyId: s.copyId }] };
      // Lease handed to us with no copy in hand (the source skipped or lost it): restore.
      return { state: { kind: 'live', epoch: input.epoch }, actions: [{ kind: 'restore_live', epoch: input.epoch }] };
    case 'abort':
      if (same(input)) return { state: NONE, actions: [{ kind: 'discard', reason: 'aborted by the source', ...(s.kind === 'received' ? { copyId: s.copyId } : {}) }] };
      return { state: s, actions: [] };
    case 'tick':
      if ((s.kind === 'buffering' || s.kind === 'received') && now - s.since > timeoutMs) {
        return { state: NONE, actions: [{ kind: 'discard', reason: `no progress for ${timeoutMs} ms`, ...(s.kind === 'received' ? { copyId: s.copyId } : {}) }] };
      }
      return { state: s, actions: [] };
  }
}
