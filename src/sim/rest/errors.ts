// Discord's JSON error answers: `{ message, code }` (plus `errors` for bad form bodies), with the
// status and code Discord uses for each case.

export class DiscordApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly errors?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DiscordApiError';
  }

  body(): { message: string; code: number; errors?: Record<string, unknown> } {
    return { message: this.message, code: this.code, ...(this.errors ? { errors: this.errors } : {}) };
  }
}

export const unknownChannel = () => new DiscordApiError(404, 10003, 'Unknown Channel');
export const unknownMessage = () => new DiscordApiError(404, 10008, 'Unknown Message');
export const unknownMember = () => new DiscordApiError(404, 10007, 'Unknown Member');
export const unknownGuild = () => new DiscordApiError(404, 10004, 'Unknown Guild');
export const unknownWebhook = () => new DiscordApiError(404, 10015, 'Unknown Webhook');
export const unknownInteraction = () => new DiscordApiError(404, 10062, 'Unknown interaction');
export const missingAccess = () => new DiscordApiError(403, 50001, 'Missing Access');
export const alreadyAcknowledged = () => new DiscordApiError(400, 40060, 'Interaction has already been acknowledged.');
export const invalidWebhookToken = () => new DiscordApiError(401, 50027, 'Invalid Webhook Token');
export const emptyMessage = () => new DiscordApiError(400, 50006, 'Cannot send an empty message');
export const invalidJson = () => new DiscordApiError(400, 50109, 'The request body contains invalid JSON.');
export const unauthorized = () => new DiscordApiError(401, 0, '401: Unauthorized');
export const notFound = () => new DiscordApiError(404, 0, '404: Not Found');
export const methodNotAllowed = () => new DiscordApiError(405, 0, '405: Method Not Allowed');

/** 50035 Invalid Form Body with Discord's nested `errors` shape, one field at a time. */
export function invalidFormBody(field: string, message: string, code = 'BASE_TYPE_INVALID'): DiscordApiError {
  return new DiscordApiError(400, 50035, 'Invalid Form Body', { [field]: { _errors: [{ code, message }] } });
}
