import type { Context } from 'koa';
import { createRemoteJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../config.ts';
import { CallrecError } from '../errors.ts';
import { ORG_ID_RE, ROLES, roleAllows, type Role } from '../auth/roles.ts';

export { ORG_ID_RE, ROLES, roleAllows, type Role };

/**
 * Bearer-token authentication for /api: Supabase-compatible JWTs, HS256 with AUTH_JWT_SECRET or RS256/ES256
 * from AUTH_JWKS_URL. `sub` is the user, the org comes from a configurable claim (top level, then
 * `app_metadata`), the role from `role` / `app_metadata.role`. Everything else (`alg: none`, other
 * algorithms, expired, wrong audience or issuer) is refused.
 */

export interface Caller {
  userId: string;
  orgId: string;
  role: Role;
}

export type AuthResult = { ok: true; caller: Caller } | { ok: false; code: 'invalid_token' | 'forbidden' | 'auth_unavailable'; message: string };

export interface Authenticator {
  verify(token: string): Promise<AuthResult>;
}

const ASYMMETRIC = ['RS256', 'ES256'] as const;
/** Seconds of clock skew tolerated on `exp`/`nbf`/`iat`. */
const CLOCK_TOLERANCE_SECONDS = 5;

export type AuthConfig = Pick<Config, 'AUTH_JWT_SECRET' | 'AUTH_JWKS_URL' | 'AUTH_AUDIENCE' | 'AUTH_ISSUER' | 'AUTH_ORG_CLAIM' | 'AUTH_ROLE_CLAIM'>;

/** Reads `a.b.c` from an object; undefined when any step is missing. */
export function readClaim(claims: unknown, path: string): unknown {
  let cur: unknown = claims;
  for (const key of path.split('.')) {
    if (!cur || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/**
 * Pure: the caller a verified payload describes. The org claim is looked up at its path, then under
 * `app_metadata`; the role likewise, and a value that is not one of ours (Supabase puts
 * `role: "authenticated"` at the top level) falls through to `app_metadata`, then to `member`.
 */
export function callerFromClaims(payload: JWTPayload, cfg: Pick<AuthConfig, 'AUTH_ORG_CLAIM' | 'AUTH_ROLE_CLAIM'>): AuthResult {
  const sub = payload.sub;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 256) return { ok: false, code: 'invalid_token', message: 'the token has no subject (sub)' };
  const org = [readClaim(payload, cfg.AUTH_ORG_CLAIM), readClaim(payload, `app_metadata.${cfg.AUTH_ORG_CLAIM}`)].find((v) => v !== undefined && v !== null && v !== '');
  if (org === undefined) return { ok: false, code: 'forbidden', message: `the token carries no organisation (claim ${cfg.AUTH_ORG_CLAIM} or app_metadata.${cfg.AUTH_ORG_CLAIM})` };
  if (typeof org !== 'string' || !ORG_ID_RE.test(org)) return { ok: false, code: 'forbidden', message: 'the organisation claim is not a valid org id' };
  const roleCandidates = [readClaim(payload, cfg.AUTH_ROLE_CLAIM), readClaim(payload, `app_metadata.${cfg.AUTH_ROLE_CLAIM}`)];
  const role = (roleCandidates.find((r) => typeof r === 'string' && (ROLES as readonly string[]).includes(r)) as Role | undefined) ?? 'member';
  return { ok: true, caller: { userId: sub, orgId: org, role } };
}

export function createAuthenticator(cfg: AuthConfig, opts: { clock?: () => Date; fetchJwks?: JWTVerifyGetKey } = {}): Authenticator {
  const clock = opts.clock ?? (() => new Date());
  const secret = cfg.AUTH_JWT_SECRET ? new TextEncoder().encode(cfg.AUTH_JWT_SECRET) : undefined;
  const jwks = opts.fetchJwks ?? (cfg.AUTH_JWKS_URL ? createRemoteJWKSet(new URL(cfg.AUTH_JWKS_URL), { timeoutDuration: 5000, cooldownDuration: 30_000 }) : undefined);

  return {
    async verify(token) {
      if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token) || token.length > 16_384) {
        return { ok: false, code: 'invalid_token', message: 'the bearer token is not a JWT' };
      }
      let alg: string | undefined;
      try {
        alg = decodeProtectedHeader(token).alg;
      } catch {
        return { ok: false, code: 'invalid_token', message: 'the token header cannot be read' };
      }
      const common = {
        audience: cfg.AUTH_AUDIENCE || undefined,
        issuer: cfg.AUTH_ISSUER || undefined,
        currentDate: clock(),
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'sub'],
      };
      try {
        let payload: JWTPayload;
        if (alg === 'HS256' && secret) {
          payload = (await jwtVerify(token, secret, { ...common, algorithms: ['HS256'] })).payload;
        } else if ((ASYMMETRIC as readonly string[]).includes(alg ?? '') && jwks) {
          payload = (await jwtVerify(token, jwks, { ...common, algorithms: [...ASYMMETRIC] })).payload;
        } else {
          return { ok: false, code: 'invalid_token', message: `tokens signed with ${JSON.stringify(alg ?? null)} are not accepted` };
        }
        return callerFromClaims(payload, cfg);
      } catch (err) {
        // The key set could not be fetched: the token may be fine, so this is ours to fix (503), not a 401.
        if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid || (err instanceof Error && !(err instanceof joseErrors.JOSEError))) {
          return { ok: false, code: 'auth_unavailable', message: 'the signing key set (AUTH_JWKS_URL) could not be loaded' };
        }
        return { ok: false, code: 'invalid_token', message: describeJoseError(err) };
      }
    },
  };
}

function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'the token has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `the token claim ${err.claim} is not valid (${err.reason})`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'the token signature is not valid';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'no key of the key set matches the token';
  if (err instanceof joseErrors.JOSEError) return `the token is not valid (${err.code})`;
  return 'the token is not valid';
}

/** Where a request may carry its token. Query parameter and cookie only for EventSource routes. */
export interface TokenSources {
  query?: boolean;
  cookie?: boolean;
}

export const TOKEN_QUERY_PARAM = 'access_token';
export const TOKEN_COOKIE = 'access_token';

export function readToken(ctx: Context, sources: TokenSources = {}): string | undefined {
  const header = ctx.get('authorization');
  if (header) {
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    return m ? m[1] : '';
  }
  if (sources.query) {
    const q = ctx.query[TOKEN_QUERY_PARAM];
    if (typeof q === 'string' && q) return q;
  }
  if (sources.cookie) {
    const c = ctx.cookies.get(TOKEN_COOKIE);
    if (c) return c;
  }
  return undefined;
}

/** Authenticates the request and checks the role; throws 401 / 403 from the error catalogue. */
export async function authenticate(ctx: Context, authenticator: Authenticator, roles: readonly Role[], sources: TokenSources = {}): Promise<Caller> {
  const token = readToken(ctx, sources);
  if (token === undefined) {
    ctx.set('WWW-Authenticate', 'Bearer');
    throw new CallrecError('unauthorized', 'an Authorization: Bearer <token> header is required');
  }
  if (token === '') {
    ctx.set('WWW-Authenticate', 'Bearer error="invalid_request"');
    throw new CallrecError('invalid_token', 'the Authorization header must be "Bearer <token>"');
  }
  const r = await authenticator.verify(token);
  if (!r.ok) {
    if (r.code === 'invalid_token') ctx.set('WWW-Authenticate', 'Bearer error="invalid_token"');
    throw new CallrecError(r.code, r.message);
  }
  if (!roleAllows(roles, r.caller.role)) throw new CallrecError('forbidden', `this needs the role ${roles.join(' or ')}; the token has ${r.caller.role}`);
  return r.caller;
}
