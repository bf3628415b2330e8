// The durable assignment store (Postgres): what other folders may use.
export { AssignmentStore, createAssignmentStore } from './assignments.js';
export type { Assignment, AssignmentLogRow, LogEntry, StoreOptions } from './assignments.js';
export { RetryQueue } from './retry-queue.js';
export { beginPurge, dueForPurge, finishPurge, leftPastRetention, markLeft, withRetentionLock } from './retention.js';
export type { LeftGuild } from './retention.js';
