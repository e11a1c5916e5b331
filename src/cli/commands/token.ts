import { loadConfig } from '../../config.ts';
import { ORG_ID_RE, ROLES, type Role } from '../../auth/roles.ts';
import { stringOption, UsageError, type CliCommand } from '../command.ts';
import { parseTtl, signToken } from '../../auth/tokens.ts';

export const tokenCommand: CliCommand = {
  name: 'token',
  summary: 'print an API token signed with AUTH_JWT_SECRET (HS256), for local use and scripts',
  usage: `--org ORG --user USER [--role ${ROLES.join('|')}] [--ttl 1h]`,
  options: {
    org: { type: 'string', value: 'ORG', description: 'the organisation the token is for' },
    user: { type: 'string', value: 'USER', description: 'the user id (sub)' },
    role: { type: 'string', value: 'ROLE', description: `${ROLES.join(', ')} (default member); platform-admin may read metrics across orgs` },
    ttl: { type: 'string', value: 'TTL', description: 'lifetime: 30s, 15m, 1h (default), 7d; at most 366d' },
  },
  async run(args, ctx) {
    const orgId = stringOption(args, 'org', true);
    const userId = stringOption(args, 'user', true);
    const role = (stringOption(args, 'role') ?? 'member') as Role;
    const ttlSeconds = parseTtl(stringOption(args, 'ttl') ?? '1h');
    if (!ORG_ID_RE.test(orgId)) throw new UsageError('--org must be 1-64 letters, digits, _ or -');
    if (!ROLES.includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
    if (ttlSeconds === undefined) throw new UsageError('--ttl must look like 30s, 15m, 1h or 7d (at most 366d)');
    const config = loadConfig(ctx.env);
    if (!config.AUTH_JWT_SECRET) throw new UsageError('callrec token signs with AUTH_JWT_SECRET; only AUTH_JWKS_URL is configured, so get tokens from your identity provider');
    if (config.devAuth) ctx.err('callrec: AUTH_JWT_SECRET is not set; signing with the development secret (accepted only by a callrec on loopback or with CALLREC_INSECURE_DEV=true)');
    ctx.out(
      await signToken({
        secret: config.AUTH_JWT_SECRET,
        orgId,
        userId,
        role,
        ttlSeconds,
        audience: config.AUTH_AUDIENCE,
        issuer: config.AUTH_ISSUER,
        orgClaim: config.AUTH_ORG_CLAIM,
        roleClaim: config.AUTH_ROLE_CLAIM,
      }),
    );
    return 0;
  },
};
