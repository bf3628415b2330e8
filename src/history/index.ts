// The history checker (DESIGN §10): what tests and the CLI use.
export { APPLIED_TYPES, checkHistory, type CheckOptions, type HistoryInput, type HistoryReport, type Span } from './check.js';
export { LeaseLineage, type EpochRegression, type EpochStart, type LeaseLogRow } from './lineage.js';
export { formatReport } from './format.js';
export { fetchSimLog, findApplicationLogs, InputError, readApplications, readLeaseLog, readSimLogFile, type SimRecords } from './inputs.js';
