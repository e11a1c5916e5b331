import { createHash, randomUUID } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns/promises';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { LookupFunction } from 'node:net';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent, buildConnector, request } from 'undici';
import { silentLogger, type Logger } from '../log.ts';
import { createAddressPolicy, isIpLiteral, stripBrackets, type AddressPolicy } from './addressPolicy.ts';
import { isHostAllowed } from './hostPolicy.ts';

/**
 * Fetch a recording from somewhere on the internet without trusting the URL: streamed to a temp file
 * (constant memory), size-capped, deadline-bound, only from allowed hosts, never to internal addresses
 * (checked when each connection is made, so DNS rebinding cannot slip past), redirects followed by hand.
 */

export type DownloadErrorCode =
  | 'invalid_url'
  | 'host_not_allowed'
  | 'address_not_allowed'
  | 'too_many_redirects'
  | 'too_large'
  | 'http_status'
  | 'timeout'
  | 'connection_error'
  | 'truncated'
  /** the caller's `signal` fired */
  | 'aborted'
  /** writing the temp file failed (disk full, permissions) */
  | 'io_error';

export interface DownloadError {
  code: DownloadErrorCode;
  message: string;
  retryable: boolean;
  /** HTTP status, for `http_status` */
  status?: number;
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

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
  ok: true;
  path: string;
  bytes: number;
  sha256: string;
  contentType: string | null;
  finalUrl: string;
}

export type DownloadResult = DownloadSuccess | { ok: false; error: DownloadError };

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Headers that carry credentials and must not follow a redirect to another origin. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie']);
const ADDRESS_REFUSED = 'CALLREC_ADDRESS_NOT_ALLOWED';

const retryableCodes: Record<DownloadErrorCode, boolean> = {
  invalid_url: false,
  host_not_allowed: false,
  address_not_allowed: false,
  too_many_redirects: false,
  too_large: false,
  http_status: false,
  timeout: true,
  connection_error: true,
  truncated: true,
  aborted: true,
  io_error: true,
};

function fail(code: DownloadErrorCode, message: string, extra: Partial<DownloadError> = {}): { ok: false; error: DownloadError } {
  return { ok: false, error: { code, message, retryable: retryableCodes[code], ...extra } };
}

export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** URL as safe to log: no credentials, no query (signed URLs carry tokens there). */
export function describeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

class DownloadFailure extends Error {
  constructor(readonly failure: DownloadError) {
    super(failure.message);
  }
}

function addressRefusedError(hostname: string, address: string, reason: string): Error {
  return Object.assign(new Error(`${hostname} resolves to ${address} (${reason}), which is not allowed`), {
    code: ADDRESS_REFUSED,
  });
}

/** Walk an error and its causes for a code. */
function findCode(err: unknown): { code?: string; message: string; refused?: boolean } {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e; depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === ADDRESS_REFUSED) return { code, message: (e as Error).message, refused: true };
    const cause = (e as { cause?: unknown }).cause;
    if (!cause) break;
    e = cause;
  }
  const top = err as { code?: unknown; message?: unknown };
  return { code: typeof top?.code === 'string' ? top.code : undefined, message: String(top?.message ?? err) };
}

async function defaultResolve(hostname: string): Promise<ResolvedAddress[]> {
  const all = await dnsLookup(hostname, { all: true, verbatim: true });
  return all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
}

/**
 * A `net.connect` lookup that resolves the name and refuses the connection when any address it resolves to is
 * outside the policy (a name with one public and one private record is refused as a whole).
 */
function validatingLookup(policy: AddressPolicy, resolve: (hostname: string) => Promise<ResolvedAddress[]>): LookupFunction {
  return ((hostname: string, options: { family?: number | string; all?: boolean }, callback: (...args: unknown[]) => void) => {
    resolve(hostname).then(
      (resolved) => {
        const family = options?.family === 4 || options?.family === 'IPv4' ? 4 : options?.family === 6 || options?.family === 'IPv6' ? 6 : 0;
        const usable = family ? resolved.filter((r) => r.family === family) : resolved;
        if (usable.length === 0) {
          callback(Object.assign(new Error(`${hostname} did not resolve`), { code: 'ENOTFOUND' }));
          return;
        }
        for (const r of usable) {
          const verdict = policy.check(r.address);
          if (!verdict.ok) {
            callback(addressRefusedError(hostname, r.address, verdict.reason));
            return;
          }
        }
        if (options?.all) callback(null, usable);
        else callback(null, usable[0]!.address, usable[0]!.family);
      },
      (err: unknown) => callback(err),
    );
  }) as LookupFunction;
}

/**
 * An undici dispatcher whose every new connection is checked: IP-literal hosts against the policy directly
 * (net.connect skips lookup for them), names through the validating lookup.
 */
function createGuardedAgent(policy: AddressPolicy, resolve: (hostname: string) => Promise<ResolvedAddress[]>): Agent {
  const base = buildConnector({ lookup: validatingLookup(policy, resolve) });
  return new Agent({
    connections: 4,
    connect(opts, callback) {
      const host = stripBrackets(opts.hostname);
      if (isIpLiteral(host)) {
        const verdict = policy.check(host);
        if (!verdict.ok) {
          callback(addressRefusedError(host, host, verdict.reason), null);
          return;
        }
      }
      base(opts, callback);
    },
  });
}

function parseHttpUrl(raw: string, base?: URL): URL | null {
  let url: URL;
  try {
    url = base ? new URL(raw, base) : new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username || url.password || url.hostname === '') return null;
  return url;
}

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
  const policy: AddressPolicy = createAddressPolicy(opts.allowedAddresses ?? []);
  if (opts.signal?.aborted) return fail('aborted', 'The download was aborted before it started');

  const first = parseHttpUrl(opts.url);
  if (!first) return fail('invalid_url', 'The recording URL is not a valid http(s) URL');

  const controller = new AbortController();
  let deadlineHit = false;
  const timer = setTimeout(() => {
    deadlineHit = true;
    controller.abort();
  }, opts.timeoutMs);
  const onCallerAbort = () => controller.abort();
  opts.signal?.addEventListener('abort', onCallerAbort, { once: true });

  const agent = createGuardedAgent(policy, opts.resolve ?? defaultResolve);
  const id = randomUUID();
  const tempPath = join(opts.destDir, `dl-${id}.part`);
  const finalPath = join(opts.destDir, `dl-${id}`);
  let tempCreated = false;
  let phase: 'connect' | 'body' = 'connect';
  let tooLarge = false;

  const classify = (err: unknown): { ok: false; error: DownloadError } => {
    if (err instanceof DownloadFailure) return { ok: false, error: err.failure };
    if (tooLarge) return fail('too_large', `The recording is larger than ${opts.maxBytes} bytes`);
    if (deadlineHit) return fail('timeout', `The download did not finish within ${opts.timeoutMs} ms`);
    if (opts.signal?.aborted) return fail('aborted', 'The download was aborted');
    const found = findCode(err);
    if (found.code === 'UND_ERR_HEADERS_TIMEOUT' || found.code === 'UND_ERR_BODY_TIMEOUT') {
      return fail('timeout', `The recording server stopped responding (${found.code})`);
    }
    if (found.refused) return fail('address_not_allowed', found.message);
    if (phase === 'body') {
      if (found.code && /^E(NOSPC|ACCES|PERM|ROFS|DQUOT|NOENT|ISDIR|MFILE|EXIST)$/.test(found.code)) {
        return fail('io_error', `Writing the download failed: ${found.message}`);
      }
      return fail('truncated', `The connection ended before the whole recording arrived (${found.code ?? found.message})`);
    }
    return fail('connection_error', `Could not fetch the recording (${found.code ?? 'error'}: ${found.message})`);
  };

  try {
    let url = first;
    let headers: Record<string, string> = {
      'user-agent': 'callrec',
      'accept-encoding': 'identity',
      ...lowerCaseKeys(opts.headers ?? {}),
    };

    for (let hop = 0; ; hop++) {
      if (!isHostAllowed(url.hostname, opts.allowedHosts)) {
        return fail('host_not_allowed', `Host ${url.hostname} is not in the allowed hosts${hop ? ` (redirect hop ${hop})` : ''}`);
      }
      // Literal IPs are refused before any connection is even scheduled; names are checked at connect time.
      if (isIpLiteral(url.hostname)) {
        const verdict = policy.check(stripBrackets(url.hostname));
        if (!verdict.ok) {
          return fail('address_not_allowed', `Address ${stripBrackets(url.hostname)} (${verdict.reason}) is not allowed${hop ? ` (redirect hop ${hop})` : ''}`);
        }
      }

      logger.debug({ url: describeUrl(url), hop }, 'recording download request');
      phase = 'connect';
      const res = await request(url, {
        method: 'GET',
        headers,
        dispatcher: agent,
        signal: controller.signal,
        // The overall deadline above is what normally fires; these only back it up.
        headersTimeout: opts.timeoutMs + 1000,
        bodyTimeout: opts.timeoutMs + 1000,
      });

      if (REDIRECT_STATUSES.has(res.statusCode)) {
        const location = res.headers.location;
        await res.body.dump().catch(() => undefined);
        const target = typeof location === 'string' ? parseHttpUrl(location, url) : null;
        if (!target) {
          return fail('invalid_url', `Redirect ${res.statusCode} from ${describeUrl(url)} has a missing or invalid Location`);
        }
        if (hop >= maxRedirects) {
          return fail('too_many_redirects', `More than ${maxRedirects} redirects`);
        }
        if (target.origin !== url.origin) headers = dropCredentials(headers);
        url = target;
        continue;
      }

      if (res.statusCode < 200 || res.statusCode > 299) {
        await res.body.dump().catch(() => undefined);
        return fail('http_status', `The recording server answered ${res.statusCode} for ${describeUrl(url)}`, {
          status: res.statusCode,
          retryable: isRetryableStatus(res.statusCode),
        });
      }

      const lengthHeader = res.headers['content-length'];
      const expected = typeof lengthHeader === 'string' && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
      if (expected !== null && expected > opts.maxBytes) {
        res.body.destroy();
        return fail('too_large', `The recording is ${expected} bytes, more than the limit of ${opts.maxBytes}`);
      }
      const contentTypeHeader = res.headers['content-type'];
      const contentType = typeof contentTypeHeader === 'string' ? contentTypeHeader : null;

      phase = 'body';
      const hash = createHash('sha256');
      let bytes = 0;
      const meter = new Transform({
        transform(chunk: Buffer, _enc, callback) {
          bytes += chunk.length;
          if (bytes > opts.maxBytes) {
            tooLarge = true;
            callback(new Error('too large'));
            return;
          }
          hash.update(chunk);
          callback(null, chunk);
        },
      });
      tempCreated = true;
      await pipeline(res.body, meter, createWriteStream(tempPath, { flags: 'wx' }));

      if (expected !== null && bytes !== expected) {
        throw new DownloadFailure({
          code: 'truncated',
          message: `Received ${bytes} of ${expected} bytes`,
          retryable: true,
        });
      }
      await rename(tempPath, finalPath);
      tempCreated = false;
      logger.debug({ url: describeUrl(url), bytes }, 'recording downloaded');
      return { ok: true, path: finalPath, bytes, sha256: hash.digest('hex'), contentType, finalUrl: url.href };
    }
  } catch (err) {
    const result = classify(err);
    logger.debug({ errorCode: result.error.code, err: result.error.message }, 'recording download failed');
    return result;
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onCallerAbort);
    if (tempCreated) await rm(tempPath, { force: true }).catch(() => undefined);
    await agent.destroy().catch(() => undefined);
  }
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}

function dropCredentials(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (!CREDENTIAL_HEADERS.has(k)) out[k] = v;
  return out;
}
