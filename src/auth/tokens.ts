import { SignJWT } from 'jose';
import type { Role } from './roles.ts';

/** `30s`, `15m`, `1h`, `7d` or plain seconds → seconds. */
export function parseTtl(ttl: string): number | undefined {
  const m = /^(\d{1,9})([smhd]?)$/.exec(ttl.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return n > 0 && n <= 366 * 86_400 ? n : undefined;
}

/** Sets `value` at the dotted `path` of `target` (creating objects on the way). */
function setClaim(target: Record<string, unknown>, path: string, value: unknown) {
  const keys = path.split('.');
  let cur = target;
  for (const key of keys.slice(0, -1)) {
    if (!cur[key] || typeof cur[key] !== 'object') cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]!] = value;
}

export interface TokenInput {
  secret: string;
  orgId: string;
  userId: string;
  role?: Role;
  ttlSeconds?: number;
  audience?: string;
  issuer?: string;
  orgClaim?: string;
  roleClaim?: string;
  now?: Date;
}

/** An HS256 token as callrec's /api accepts it (and as Supabase issues them: sub, role, exp, iat). */
export async function signToken(input: TokenInput): Promise<string> {
  const now = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const claims: Record<string, unknown> = {};
  setClaim(claims, input.orgClaim ?? 'org_id', input.orgId);
  setClaim(claims, input.roleClaim ?? 'role', input.role ?? 'member');
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(input.userId)
    .setIssuedAt(now)
    .setExpirationTime(now + (input.ttlSeconds ?? 3600));
  if (input.audience) jwt = jwt.setAudience(input.audience);
  if (input.issuer) jwt = jwt.setIssuer(input.issuer);
  return jwt.sign(new TextEncoder().encode(input.secret));
}
