import type { IncomingMessage } from 'node:http';
import { CallrecError } from '../errors.ts';

/**
 * Reads the request body as raw bytes, refusing more than `limit` bytes (by Content-Length up front, and
 * while streaming for chunked bodies), and — with `timeoutMs` — a body that has not fully arrived by then
 * (408; the caller's reply carries Connection: close, so the stalled socket goes away with it). Webhook
 * signatures are verified on exactly these bytes.
 */
export async function readRawBody(req: IncomingMessage, limit: number, timeoutMs?: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new CallrecError('payload_too_large', `the body is ${declared} bytes; the limit is ${limit} bytes`);
  }
  if (req.readableEnded) return Buffer.alloc(0);
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err?: unknown) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', finish).off('aborted', onAborted);
      if (err) {
        // Stop buffering what is left; the connection closes after the reply.
        req.pause();
        reject(err);
      } else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return finish(new CallrecError('payload_too_large', `the body exceeds the limit of ${limit} bytes`));
      chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onAborted = () => finish(new CallrecError('invalid_body', 'the client closed the connection before the body was complete'));
    // A sender that stalls mid-body must not hold its bytes (and a socket) for Node's 300 s default.
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => finish(new CallrecError('request_timeout', `the body did not arrive within ${timeoutMs} ms (WEBHOOK_BODY_TIMEOUT_MS)`)), timeoutMs);
    req.on('data', onData).on('end', onEnd).on('error', finish).on('aborted', onAborted);
  });
}
