import { request, type Agent, type Dispatcher } from 'undici';
import type { Logger } from '../log.ts';
import type { Result } from '../result.ts';
import { isIpLiteral, stripBrackets, type AddressPolicy } from './addressPolicy.ts';
import { downloadFailed, type DownloadError } from './downloadErrors.ts';
import { isHostAllowed } from './hostPolicy.ts';

/**
 * GET a URL, following redirects by hand: every hop's host must be allowed and a literal address must pass the
 * address policy before any connection is scheduled; credentials do not follow a redirect to another origin.
 */

export interface RedirectOptions {
  headers: Record<string, string>;
  allowedHosts: string[];
  policy: AddressPolicy;
  maxRedirects: number;
  agent: Agent;
  signal: AbortSignal;
  /** the overall deadline; undici's own timeouts only back it up */
  timeoutMs: number;
  logger: Logger;
}

/** The first answer that is not a redirect, and the URL that gave it. */
export type FinalResponse = Result<{ response: Dispatcher.ResponseData; url: URL }, { error: DownloadError }>;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Headers that carry credentials and must not follow a redirect to another origin. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie']);

export async function requestFollowingRedirects(first: URL, o: RedirectOptions): Promise<FinalResponse> {
  let url = first;
  let headers: Record<string, string> = { 'user-agent': 'callrec', 'accept-encoding': 'identity', ...lowerCaseKeys(o.headers) };
  for (let hop = 0; ; hop++) {
    const refused = refusedTarget(url, hop, o);
    if (refused) return refused;
    o.logger.debug({ url: describeUrl(url), hop }, 'recording download request');
    const response = await request(url, {
      method: 'GET',
      headers,
      dispatcher: o.agent,
      signal: o.signal,
      headersTimeout: o.timeoutMs + 1000,
      bodyTimeout: o.timeoutMs + 1000,
    });
    if (!REDIRECT_STATUSES.has(response.statusCode)) return { ok: true, response, url };

    const location = response.headers.location;
    await response.body.dump().catch(() => undefined);
    const target = typeof location === 'string' ? parseHttpUrl(location, url) : null;
    if (!target) {
      return downloadFailed('invalid_url', `Redirect ${response.statusCode} from ${describeUrl(url)} has a missing or invalid Location`);
    }
    if (hop >= o.maxRedirects) return downloadFailed('too_many_redirects', `More than ${o.maxRedirects} redirects`);
    if (target.origin !== url.origin) headers = dropCredentials(headers);
    url = target;
  }
}

/** Why `url` may not be fetched at all, or null. */
function refusedTarget(url: URL, hop: number, o: RedirectOptions) {
  const where = hop ? ` (redirect hop ${hop})` : '';
  if (!isHostAllowed(url.hostname, o.allowedHosts)) {
    return downloadFailed('host_not_allowed', `Host ${url.hostname} is not in the allowed hosts${where}`);
  }
  // Literal IPs are refused before any connection is even scheduled; names are checked at connect time.
  if (isIpLiteral(url.hostname)) {
    const address = stripBrackets(url.hostname);
    const verdict = o.policy.check(address);
    if (!verdict.ok) return downloadFailed('address_not_allowed', `Address ${address} (${verdict.reason}) is not allowed${where}`);
  }
  return null;
}

/** An absolute http(s) URL without credentials in it, or null. */
export function parseHttpUrl(raw: string, base?: URL): URL | null {
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

/** URL as safe to log: no credentials, no query (signed URLs carry tokens there). */
export function describeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
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
