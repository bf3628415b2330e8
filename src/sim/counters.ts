// Running totals of what the stand-in saw, shown in GET /control/state.

export interface SimCounters {
  dispatches: number;
  framesSent: number;
  connections: number;
  identifies: number;
  /** IDENTIFYs answered with op 9 because their bucket's window was not over. */
  identifiesRateLimited: number;
  /** IDENTIFYs past the daily total (the token was reset, as Discord does). */
  identifiesOverDailyLimit: number;
  resumes: number;
  resumesRefused: number;
  /** Close codes the stand-in sent, by code. */
  closeCodes: Record<string, number>;
  restRequests: number;
  /** 401, 403 and 429 answers: Discord bans an IP past 10,000 of them in 10 minutes. */
  restInvalid: number;
  rest429: number;
  rest429Global: number;
  messagesPosted: number;
  messagesCreatedByBot: number;
  nonceDeduplicated: number;
  interactionsSent: number;
  interactionsFailed: number;
}

export function createCounters(): SimCounters {
  return {
    dispatches: 0,
    framesSent: 0,
    connections: 0,
    identifies: 0,
    identifiesRateLimited: 0,
    identifiesOverDailyLimit: 0,
    resumes: 0,
    resumesRefused: 0,
    closeCodes: {},
    restRequests: 0,
    restInvalid: 0,
    rest429: 0,
    rest429Global: 0,
    messagesPosted: 0,
    messagesCreatedByBot: 0,
    nonceDeduplicated: 0,
    interactionsSent: 0,
    interactionsFailed: 0,
  };
}
