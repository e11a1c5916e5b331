import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { silentLogger, type Logger } from '../log.ts';
import type { Err, Result } from '../result.ts';
import { createAddressPolicy } from './addressPolicy.ts';
import { saveBodyToFile } from './bodyToFile.ts';
import { classifyThrown, downloadFailed, type DownloadError } from './downloadErrors.ts';
import { createGuardedAgent, defaultResolve, type ResolvedAddress } from './guardedAgent.ts';
import { describeUrl, parseHttpUrl, requestFollowingRedirects } from './redirects.ts';

/**
 * Fetch a recording from somewhere on the internet without trusting the URL: streamed to a temp file
 * (constant memory), size-capped, deadline-bound, only from allowed hosts, never to internal addresses
 * (checked when each connection is made, so DNS rebinding cannot slip past), redirects followed by hand.
 */

export type { DownloadError, DownloadErrorCode } from './downloadErrors.ts';
export type { ResolvedAddress } from './guardedAgent.ts';

export interface DownloadOptions {
  url: string;
  headers?: Record<string, string>;
  /** exact host (`storage.vapi.ai`, `127.0.0.1`), `*.example.com` (sub-domains), or `*` (any host) */
  allowedHosts: string[];
  /** IPs or CIDRs permitted even though they are private/loopback, e.g. `['127.0.0.1']` in tests */
  allowedAddresses?: string[];
  /** overall deadline for every hop, DNS, headers and body */
  timeoutMs: number;
  maxBytes: number;
  /** default 5 */
  maxRedirects?: number;
  destDir: string;
  signal?: AbortSignal;
  /** DNS resolver used at connect time; defaults to the system resolver (`dns.lookup`, all addresses) */
  resolve?: (hostname: string) => Promise<ResolvedAddress[]>;
  logger?: Logger;
}

export interface DownloadSuccess {
  path: string;
  bytes: number;
  sha256: string;
  contentType: string | null;
  finalUrl: string;
}

export type DownloadResult = Result<DownloadSuccess, { error: DownloadError }>;

/**
 * Download `opts.url` into a new file in `opts.destDir` (named `dl-<uuid>`, written as `dl-<uuid>.part` and
 * renamed when complete). Never throws for network, policy or HTTP problems: they come back as
 * `{ ok: false, error }` with a `retryable` hint, and no file is left behind. Throws a TypeError only for invalid
 * options (a malformed `allowedAddresses` entry, a non-positive timeout).
 */
export async function downloadToFile(opts: DownloadOptions): Promise<DownloadResult> {
  const logger = opts.logger ?? silentLogger;
  const maxRedirects = opts.maxRedirects ?? 5;
  if (!(opts.timeoutMs > 0) || !(opts.maxBytes >= 0) || !(maxRedirects >= 0)) {
    throw new TypeError('downloadToFile: timeoutMs must be > 0, maxBytes and maxRedirects >= 0');
  }
  // throws on a malformed entry: a configuration error, not a download outcome
  const policy = createAddressPolicy(opts.allowedAddresses ?? []);
  if (opts.signal?.aborted) return downloadFailed('aborted', 'The download was aborted before it started');
  const first = parseHttpUrl(opts.url);
  if (!first) return downloadFailed('invalid_url', 'The recording URL is not a valid http(s) URL');

  const deadline = startDeadline(opts.timeoutMs, opts.signal);
  const agent = createGuardedAgent(policy, opts.resolve ?? defaultResolve);
  const thrown = (phase: 'connect' | 'body') => (err: unknown): Err<DownloadError> => {
    const failed = classifyThrown(err, { phase, timeoutMs: opts.timeoutMs, timedOut: deadline.timedOut(), callerAborted: !!opts.signal?.aborted });
    logger.debug({ errorCode: failed.error.code, err: failed.error.message }, 'recording download failed');
    return failed;
  };
  try {
    const final = await requestFollowingRedirects(first, {
      headers: opts.headers ?? {},
      allowedHosts: opts.allowedHosts,
      policy,
      maxRedirects,
      agent,
      signal: deadline.signal,
      timeoutMs: opts.timeoutMs,
      logger,
    }).catch(thrown('connect'));
    if (!final.ok) return final;
    const { response, url } = final;
    const accepted = await acceptResponse(response, url, opts.maxBytes);
    if (!accepted.ok) return accepted;

    const path = join(opts.destDir, `dl-${randomUUID()}`);
    const saved = await saveBodyToFile(response.body, path, { maxBytes: opts.maxBytes, expectedBytes: accepted.expectedBytes }).then(
      (s) => ({ ok: true as const, ...s }),
      thrown('body'),
    );
    if (!saved.ok) return saved;
    logger.debug({ url: describeUrl(url), bytes: saved.bytes }, 'recording downloaded');
    return { ok: true, path, bytes: saved.bytes, sha256: saved.sha256, contentType: accepted.contentType, finalUrl: url.href };
  } finally {
    deadline.dispose();
    await agent.destroy().catch(() => undefined);
  }
}

/** A 2xx answer whose announced length is within the limit, or why not (its body discarded). */
async function acceptResponse(
  response: Dispatcher.ResponseData,
  url: URL,
  maxBytes: number,
): Promise<Result<{ expectedBytes: number | null; contentType: string | null }, { error: DownloadError }>> {
  const status = response.statusCode;
  if (status < 200 || status > 299) {
    await response.body.dump().catch(() => undefined);
    return downloadFailed('http_status', `The recording server answered ${status} for ${describeUrl(url)}`, status);
  }
  const lengthHeader = response.headers['content-length'];
  const expectedBytes = typeof lengthHeader === 'string' && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
  if (expectedBytes !== null && expectedBytes > maxBytes) {
    response.body.destroy();
    return downloadFailed('too_large', `The recording is ${expectedBytes} bytes, more than the limit of ${maxBytes}`);
  }
  const contentType = response.headers['content-type'];
  return { ok: true, expectedBytes, contentType: typeof contentType === 'string' ? contentType : null };
}

/** One signal for the whole download: it fires at the deadline or when the caller's signal does. */
function startDeadline(timeoutMs: number, callerSignal: AbortSignal | undefined) {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onCallerAbort = () => controller.abort();
  callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    dispose() {
      clearTimeout(timer);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    },
  };
}
