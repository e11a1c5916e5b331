import type { IncomingMessage } from 'node:http';
import { CallrecError } from '../errors.ts';

/**
 * Reads the request body as raw bytes, refusing more than `limit` bytes (by Content-Length up front, and
 * while streaming for chunked bodies). Webhook signatures are verified on exactly these bytes.
 */
export async function readRawBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new CallrecError('payload_too_large', `the body is ${declared} bytes; the limit is ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      throw new CallrecError('payload_too_large', `the body exceeds the limit of ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}
