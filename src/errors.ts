// Errors are values with codes. AppError is what edges turn into HTTP status + JSON body;
// the cluster's own errors (LeaseLostError, FencedError, script errors) live in cluster/errors.ts.

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (code: string, message: string, details?: Record<string, unknown>) => new AppError(400, code, message, details);
export const notFound = (code: string, message: string, details?: Record<string, unknown>) => new AppError(404, code, message, details);

/** Message of anything thrown, for logs and CLI output. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
