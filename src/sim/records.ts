// What the stand-in remembers of a run: every dispatch it sent, every side effect the bot caused
// through REST and every interaction it sent. A history checker reads these (DESIGN §10).

export interface DispatchRecord {
  /** Global, gap-free order of dispatches across all shards. */
  readonly seq: number;
  /** Wall-clock ms. */
  readonly at: number;
  /** Shard under the stand-in's configured shard count; null for events outside guilds. */
  readonly shard: number | null;
  readonly type: string;
  readonly guildId: string | null;
  /** The event's dedupe key, derived from its own payload exactly as the gateway derives it. */
  readonly key: string;
  /** Sessions it went to (or was buffered for, when disconnected but resumable). */
  readonly sessions: readonly string[];
}

export interface EffectRecord {
  readonly n: number;
  readonly at: number;
  readonly method: string;
  /** Route template, e.g. `/channels/:channel/messages`. */
  readonly route: string;
  readonly path: string;
  readonly guildId?: string;
  readonly channelId?: string;
  readonly nonce?: string;
  readonly enforceNonce?: boolean;
  /** A create message whose nonce repeated: the first message was returned, nothing posted. */
  readonly deduplicated: boolean;
  readonly status: number;
  /** The request's User-Agent (pods append their pod id with discord.js `rest.userAgentAppendix`). */
  readonly userAgent: string;
  readonly body: unknown;
  /** The message created, returned (deduplicated) or deleted. */
  readonly messageId?: string;
  /** The interaction a callback or webhook call belongs to. */
  readonly interactionId?: string;
}

export type InteractionKind = 'command' | 'message_command' | 'component' | 'ping';

export interface InteractionRecord {
  readonly n: number;
  readonly id: string;
  readonly guildId: string | null;
  readonly channelId: string | null;
  readonly kind: InteractionKind;
  readonly name: string | null;
  readonly url: string;
  /** Wall-clock ms it was sent. */
  readonly sentAt: number;
  readonly badSignature: boolean;
  /** HTTP status of the answer; 0 while pending or when no answer came. */
  status: number;
  responseType: number | null;
  /** The message content of the HTTP answer (types 4 and 7), so a test can tell who answered and with what. */
  answer?: string | null;
  latencyMs: number | null;
  /**
   * Discord's view: no 200 within 3 s, or a body that is no valid response (for a bad
   * signature: anything but 401).
   */
  failed: boolean;
  pending: boolean;
  deferred: boolean;
  /** An edit of the original or a follow-up arrived within the token's 15 minutes. */
  followedUp: boolean;
  followUpAt: number | null;
  error: string | null;
}

export interface MessageRecord {
  readonly id: string;
  readonly guildId: string;
  readonly channelId: string;
  readonly authorId: string;
  readonly content: string;
  readonly timestamp: string;
  /** Global seq of its MESSAGE_CREATE dispatch. */
  readonly dispatchSeq: number;
}

export interface Page<T> {
  readonly records: T[];
  /** Pass as `after` to read on. */
  readonly next: number;
  /** Lowest index still held in memory (older records are only in the log file). */
  readonly oldest: number;
}
