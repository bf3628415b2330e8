// Which bot tokens the stand-in accepts: any token but the configured invalid ones, and a token
// Discord "reset" (daily identify total spent) is invalid from then on.

export class Tokens {
  private readonly invalid: Set<string>;

  constructor(invalid: readonly string[]) {
    this.invalid = new Set(invalid.map(normaliseToken));
  }

  isValid(token: string | undefined): token is string {
    return token !== undefined && token.length > 0 && !this.invalid.has(token);
  }

  revoke(token: string): void {
    this.invalid.add(token);
  }
}

/** Tokens arrive as `Bot xyz` (REST Authorization) or `xyz` (IDENTIFY); both name the same bot. */
export function normaliseToken(raw: string): string {
  return raw.replace(/^(Bot|Bearer)\s+/i, '').trim();
}
