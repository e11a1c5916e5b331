import { SignJWT } from 'jose';
import { loadConfig } from '../config.ts';
import { ORG_ID_RE, ROLES, type Role } from '../http/auth.ts';
import { stringFlag, UsageError, type ParsedArgs } from './args.ts';
import type { ExtraCommand } from './extraCommands.ts';

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

export const tokenCommand: ExtraCommand = {
  name: 'token',
  usage: 'token --org ORG --user USER [--role member|auditor|admin] [--ttl 1h]   print an API token (HS256, AUTH_JWT_SECRET)',
  async run(args: ParsedArgs) {
    const config = loadConfig();
    const orgId = stringFlag(args, 'org', true)!;
    const userId = stringFlag(args, 'user', true)!;
    const role = (stringFlag(args, 'role') ?? 'member') as Role;
    const ttlText = stringFlag(args, 'ttl') ?? '1h';
    if (!ORG_ID_RE.test(orgId)) throw new UsageError('--org must be 1-64 letters, digits, _ or -');
    if (!ROLES.includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
    const ttlSeconds = parseTtl(ttlText);
    if (ttlSeconds === undefined) throw new UsageError('--ttl must look like 30s, 15m, 1h or 7d (at most 366d)');
    if (!config.AUTH_JWT_SECRET) throw new UsageError('callrec token signs with AUTH_JWT_SECRET; only AUTH_JWKS_URL is configured, so get tokens from your identity provider');
    if (config.devAuth) process.stderr.write('callrec: AUTH_JWT_SECRET is not set; signing with the development secret (local use only)\n');
    const token = await signToken({
      secret: config.AUTH_JWT_SECRET,
      orgId,
      userId,
      role,
      ttlSeconds,
      audience: config.AUTH_AUDIENCE,
      issuer: config.AUTH_ISSUER,
      orgClaim: config.AUTH_ORG_CLAIM,
      roleClaim: config.AUTH_ROLE_CLAIM,
    });
    process.stdout.write(`${token}\n`);
    return 0;
  },
};
