import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface WebhookAuthConfig {
  /** Shared secret sent as `x-vapi-secret` or `Authorization: Bearer`. */
  secret?: string;
  /** HMAC-SHA256 secret: `x-signature` = hex(hmac(`${x-timestamp}.${rawBody}`)). */
  hmacSecret?: string;
  toleranceSeconds: number;
}

export type WebhookAuthResult =
  | { ok: true; method: 'none' | 'secret' | 'hmac' }
  | { ok: false; code: 'invalid_signature' | 'stale_timestamp'; message: string };

/** Equal strings in constant time, whatever their lengths (compare digests). */
export function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export type WebhookPreAuthResult =
  | { ok: true; method: 'none' | 'secret' }
  /** Only an HMAC over the body can prove this request: read the body, then verifyWebhook. */
  | { ok: 'needs_body' }
  | { ok: false; code: 'invalid_signature'; message: string };

/**
 * What the headers alone prove, before a byte of the body is read: a shared secret is checked here, so an
 * unauthenticated sender never gets to stream a body at us. A request that carries HMAC headers (and HMAC
 * is configured) still needs its body; anything else is refused at once.
 */
export function verifyWebhookHeaders(headers: Record<string, string | string[] | undefined>, cfg: WebhookAuthConfig): WebhookPreAuthResult {
  if (!cfg.secret && !cfg.hmacSecret) return { ok: true, method: 'none' };
  if (cfg.secret) {
    const given = header(headers, 'x-vapi-secret') ?? header(headers, 'authorization')?.replace(/^Bearer\s+/i, '');
    if (given !== undefined && safeEqual(given, cfg.secret)) return { ok: true, method: 'secret' };
  }
  if (cfg.hmacSecret && header(headers, 'x-signature') && header(headers, 'x-timestamp')) return { ok: 'needs_body' };
  return { ok: false, code: 'invalid_signature', message: 'missing or wrong webhook secret / signature' };
}

/**
 * Authenticates a Vapi webhook on its raw bytes, before anything is parsed. With both a secret and an
 * HMAC secret configured, either proof is accepted. With neither, every request is accepted (local use;
 * start-up warns).
 */
export function verifyWebhook(
  headers: Record<string, string | string[] | undefined>,
  rawBody: Buffer,
  cfg: WebhookAuthConfig,
  now: Date = new Date(),
): WebhookAuthResult {
  if (!cfg.secret && !cfg.hmacSecret) return { ok: true, method: 'none' };
  let stale: WebhookAuthResult | undefined;
  if (cfg.hmacSecret) {
    const signature = header(headers, 'x-signature');
    const timestamp = header(headers, 'x-timestamp');
    if (signature && timestamp) {
      const expected = createHmac('sha256', cfg.hmacSecret).update(`${timestamp}.`).update(rawBody).digest('hex');
      const given = signature.replace(/^sha256=/i, '').trim().toLowerCase();
      if (safeEqual(given, expected)) {
        const t = Number(timestamp);
        const ms = !Number.isFinite(t) ? Date.parse(timestamp) : t < 1e11 ? t * 1000 : t;
        if (Number.isFinite(ms) && Math.abs(now.getTime() - ms) <= cfg.toleranceSeconds * 1000) return { ok: true, method: 'hmac' };
        stale = { ok: false, code: 'stale_timestamp', message: `x-timestamp is outside the ${cfg.toleranceSeconds} s tolerance window` };
      }
    }
  }
  if (cfg.secret) {
    const given = header(headers, 'x-vapi-secret') ?? header(headers, 'authorization')?.replace(/^Bearer\s+/i, '');
    if (given !== undefined && safeEqual(given, cfg.secret)) return { ok: true, method: 'secret' };
  }
  return stale ?? { ok: false, code: 'invalid_signature', message: 'missing or wrong webhook secret / signature' };
}
