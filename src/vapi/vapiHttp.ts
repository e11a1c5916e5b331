import { silentLogger, type Logger } from '../log.ts';
import type { VapiClientOptions, VapiError, VapiErrorCode, VapiResult } from './restClient.ts';

/**
 * The retrying HTTP part of the Vapi REST client, shared by every Vapi resource (assistants, calls):
 * one logical JSON request with retries after 429 (Retry-After), 5xx, network errors and timeouts.
 */

export interface VapiRequester {
  /** Resolves to the parsed JSON body of a 2xx answer. `path` is relative to the base URL and already encoded. */
  requestJson(method: 'GET' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<VapiResult<unknown>>;
  authHeaders(): Record<string, string>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `Retry-After` as milliseconds from now: delta seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

function codeForStatus(status: number): VapiErrorCode {
  if (status === 400 || status === 422) return 'bad_request';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server_error';
  return 'http_error';
}

/** The human part of a Vapi error body (`{ message: string | string[], error, statusCode }`), cut short. */
function describeErrorBody(text: string): string {
  let detail = text;
  try {
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === 'object') {
      const b = body as Record<string, unknown>;
      const msg = Array.isArray(b.message) ? b.message.join('; ') : b.message;
      if (typeof msg === 'string' && msg !== '') detail = msg;
      else if (typeof b.error === 'string') detail = b.error;
    }
  } catch {
    // not JSON: keep the text
  }
  detail = detail.replace(/\s+/g, ' ').trim();
  return detail.length > 300 ? `${detail.slice(0, 300)}…` : detail;
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
}

export function createVapiRequester(baseUrl: string, options: VapiClientOptions): VapiRequester {
  const apiKey = options.apiKey;
  const doFetch = options.fetch ?? globalThis.fetch;
  const sleep = options.sleep ?? defaultSleep;
  const maxRetries = Math.max(0, Math.floor(options.maxRetries ?? 5));
  const logger = options.logger ?? silentLogger;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 120_000;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;

  const authHeaders = (): Record<string, string> => ({ authorization: `Bearer ${apiKey}` });

  function backoff(retry: number): number {
    const step = Math.min(maxDelayMs, baseDelayMs * 2 ** retry);
    return Math.round(step / 2 + random() * (step / 2));
  }

  /**
   * One logical request with retries. Resolves to the parsed JSON body of a 2xx answer.
   * `path` is relative to baseUrl and must already be encoded.
   */
  async function requestJson(method: 'GET' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<VapiResult<unknown>> {
    const url = `${baseUrl}${path}`;
    const headers: Record<string, string> = { ...authHeaders(), accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const payload = body === undefined ? undefined : JSON.stringify(body);

    let attempts = 0;
    for (let retry = 0; ; retry++) {
      attempts++;
      let failure: VapiError;
      let delay: number | undefined;
      try {
        const res = await doFetch(url, {
          method,
          headers,
          body: payload,
          redirect: 'manual', // the JSON API does not redirect; a 3xx is reported as http_error, never followed
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await res.text();
        if (res.ok) {
          try {
            return { ok: true, value: text === '' ? null : (JSON.parse(text) as unknown) };
          } catch {
            return {
              ok: false,
              error: { code: 'invalid_response', message: `${method} ${path}: the answer is not JSON`, status: res.status, retryable: false, attempts },
            };
          }
        }
        const code = codeForStatus(res.status);
        failure = {
          code,
          message: `Vapi answered ${res.status} to ${method} ${path}: ${describeErrorBody(text) || res.statusText}`,
          status: res.status,
          retryable: code === 'rate_limited' || code === 'server_error',
          attempts,
        };
        if (!failure.retryable) return { ok: false, error: failure };
        if (res.status === 429) {
          const asked = parseRetryAfter(res.headers.get('retry-after'), now());
          if (asked !== undefined && asked > maxRetryAfterMs) {
            return {
              ok: false,
              error: { ...failure, message: `${failure.message} (Retry-After asks for ${Math.ceil(asked / 1000)} s, more than the ${Math.round(maxRetryAfterMs / 1000)} s we wait)` },
            };
          }
          delay = asked;
        }
      } catch (err) {
        const timedOut = isTimeout(err);
        failure = {
          code: timedOut ? 'timeout' : 'network_error',
          message: timedOut
            ? `${method} ${path}: no answer from Vapi within ${timeoutMs} ms`
            : `${method} ${path}: ${err instanceof Error ? err.message : String(err)}`,
          retryable: true,
          attempts,
        };
      }
      if (retry >= maxRetries) return { ok: false, error: failure };
      const wait = delay ?? backoff(retry);
      logger.warn(
        { method, path, status: failure.status, errorCode: failure.code, attempt: attempts, delayMs: wait },
        'vapi request will be retried',
      );
      await sleep(wait);
    }
  }

  return { requestJson, authHeaders };
}
