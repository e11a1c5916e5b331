import type { Readable } from 'node:stream';
import { request } from 'undici';

/**
 * A `fetch` for supabase-js that really streams upload bodies.
 *
 * Node's `fetch` (and undici's) holds a whole streamed request body in memory (a 300 MB upload measured
 * ~330 MB of extra RSS), so requests whose body is a Node stream go through undici's `request` instead,
 * which keeps to the socket's backpressure (~35 MB). Everything else uses the normal `fetch`. Both get a
 * deadline; the caller's signal is honoured.
 */
export function createStorageFetch(opts: { requestTimeoutMs: number; uploadTimeoutMs: number }): typeof fetch {
  return async (input, init) => {
    const body = init?.body as unknown;
    if (isNodeStream(body)) {
      const signal = withDeadline(init?.signal ?? undefined, opts.uploadTimeoutMs);
      return uploadStream(String(input instanceof Request ? input.url : input), init!, body, signal, opts.uploadTimeoutMs);
    }
    return fetch(input, { ...init, signal: withDeadline(init?.signal ?? undefined, opts.requestTimeoutMs) });
  };
}

function isNodeStream(value: unknown): value is Readable {
  return typeof value === 'object' && value !== null && typeof (value as Readable).pipe === 'function' && typeof (value as Readable).on === 'function';
}

function withDeadline(signal: AbortSignal | undefined, ms: number): AbortSignal {
  const deadline = AbortSignal.timeout(ms);
  return signal ? AbortSignal.any([signal, deadline]) : deadline;
}

async function uploadStream(url: string, init: RequestInit, body: Readable, signal: AbortSignal, timeoutMs: number): Promise<Response> {
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((value, key) => {
    headers[key] = value;
  });
  const res = await request(url, {
    method: (init.method ?? 'POST') as 'POST' | 'PUT',
    headers,
    body,
    signal,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const bytes = Buffer.from(await res.body.arrayBuffer()); // the answer is a small JSON document
  const responseHeaders = new Headers();
  for (const [key, value] of Object.entries(res.headers)) {
    if (Array.isArray(value)) for (const v of value) responseHeaders.append(key, v);
    else if (value !== undefined) responseHeaders.set(key, value);
  }
  const nullBody = res.statusCode === 204 || res.statusCode === 205 || res.statusCode === 304;
  return new Response(nullBody ? null : bytes, { status: res.statusCode, headers: responseHeaders });
}
