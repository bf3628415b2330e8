// Completing a deferred interaction from the edge: PATCH the original response through the
// interaction webhook (no bot token needed; the interaction token is the credential).
import { request } from 'undici';
import type { Logger } from '../log.js';

export type EditResult = { readonly ok: true } | { readonly ok: false; readonly status: number | undefined; readonly message: string };

export interface WebhookClient {
  editOriginal(applicationId: string, token: string, data: Record<string, unknown>): Promise<EditResult>;
}

/** Fields an edit of a message may carry (flags such as ephemeral are fixed by the first response). */
const EDITABLE = ['content', 'embeds', 'components', 'allowed_mentions', 'attachments', 'poll'] as const;

export class DiscordWebhooks implements WebhookClient {
  constructor(
    /** DISCORD_API_URL, as discord.js's `rest.api`: the version is appended here. */
    private readonly apiUrl: string,
    private readonly logger: Logger,
    private readonly opts: { readonly attempts: number; readonly timeoutMs: number } = { attempts: 3, timeoutMs: 5000 },
  ) {}

  async editOriginal(applicationId: string, token: string, data: Record<string, unknown>): Promise<EditResult> {
    const body: Record<string, unknown> = {};
    for (const k of EDITABLE) if (data[k] !== undefined) body[k] = data[k];
    const url = `${this.apiUrl.replace(/\/+$/, '')}/v10/webhooks/${encodeURIComponent(applicationId)}/${encodeURIComponent(token)}/messages/@original`;
    let last: EditResult = { ok: false, status: undefined, message: 'not attempted' };
    for (let attempt = 1; attempt <= this.opts.attempts; attempt++) {
      try {
        const res = await request(url, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          headersTimeout: this.opts.timeoutMs,
          bodyTimeout: this.opts.timeoutMs,
        });
        const text = await res.body.text();
        if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true };
        last = { ok: false, status: res.statusCode, message: text.slice(0, 300) };
        // 4xx other than 429 will not get better by asking again (an expired token is 404).
        if (res.statusCode < 500 && res.statusCode !== 429) break;
        const retryAfter = res.statusCode === 429 ? retryAfterMs(text) : 200 * attempt;
        await new Promise((r) => setTimeout(r, Math.min(retryAfter, 5000)));
      } catch (err) {
        last = { ok: false, status: undefined, message: String(err) };
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
    this.logger.warn({ status: last.ok ? 200 : last.status, msg: last.ok ? '' : last.message }, 'editing the original interaction response failed');
    return last;
  }
}

/** Discord's 429 body says how long to wait (seconds); 1 s when it cannot be read. */
function retryAfterMs(text: string): number {
  try {
    const v = (JSON.parse(text) as { retry_after?: unknown }).retry_after;
    return typeof v === 'number' && v >= 0 ? v * 1000 : 1000;
  } catch {
    return 1000;
  }
}
