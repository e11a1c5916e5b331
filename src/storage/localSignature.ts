import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Result } from '../result.ts';

/**
 * HMAC-signed URLs for the local-disk storage:
 *   `${publicBaseUrl}/recordings/<path>?expires=<unix seconds>&sig=<hex hmac-sha256(secret, "path\nexpires")>`
 * `path` is the decoded object path; each segment is percent-encoded in the URL.
 */

export function localSignature(signingSecret: string | Buffer, path: string, expires: number): string {
  return createHmac('sha256', signingSecret).update(`${path}\n${expires}`).digest('hex');
}

export function encodeObjectPath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

export function buildLocalSignedUrl(opts: {
  publicBaseUrl: string;
  signingSecret: string | Buffer;
  path: string;
  expires: number;
  routePrefix?: string;
}): string {
  const base = opts.publicBaseUrl.replace(/\/+$/, '');
  const prefix = (opts.routePrefix ?? '/recordings').replace(/\/+$/, '');
  const sig = localSignature(opts.signingSecret, opts.path, opts.expires);
  return `${base}${prefix}/${encodeObjectPath(opts.path)}?expires=${opts.expires}&sig=${sig}`;
}

export type LocalSignatureCheck = Result<{ expires: number }, { reason: 'invalid' | 'expired' }>;

/**
 * Checks a signature in constant time, then the expiry (a tampered expired URL reports `invalid`).
 * `expires` and `sig` are the raw query values.
 */
export function verifyLocalSignature(opts: {
  signingSecret: string | Buffer;
  path: string;
  expires: unknown;
  sig: unknown;
  now: Date;
}): LocalSignatureCheck {
  const { expires, sig } = opts;
  if (typeof expires !== 'string' || !/^\d{1,12}$/.test(expires)) return { ok: false, reason: 'invalid' };
  if (typeof sig !== 'string' || !/^[0-9a-f]{64}$/.test(sig)) return { ok: false, reason: 'invalid' };
  const expiresAt = Number(expires);
  const expected = Buffer.from(localSignature(opts.signingSecret, opts.path, expiresAt), 'hex');
  const given = Buffer.from(sig, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'invalid' };
  if (expiresAt * 1000 <= opts.now.getTime()) return { ok: false, reason: 'expired' };
  return { ok: true, expires: expiresAt };
}
