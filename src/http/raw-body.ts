// Reads a request body as raw bytes with a size limit (signatures are over the exact bytes, so
// no parser may touch them first), and parses JSON into a typed AppError on failure.
import type { IncomingMessage } from 'node:http';
import { AppError } from '../errors.js';

export const DEFAULT_BODY_LIMIT = 64 * 1024;

const tooLarge = (limit: number) => new AppError(413, 'BODY_TOO_LARGE', `request body is larger than ${limit} bytes`);

export async function readRawBody(req: IncomingMessage, limit = DEFAULT_BODY_LIMIT): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Stop buffering at once: a sender that lies about (or omits) its length gets no further.
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

export function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch (err) {
    throw new AppError(400, 'MALFORMED_JSON', `request body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}
