import type Router from '@koa/router';
import { z } from 'zod';
import { signToken } from '../../auth/tokens.ts';
import { DEV_JWT_SECRET } from '../../config.ts';
import { CallrecError } from '../../errors.ts';
import { ORG_ID_RE, ROLES } from '../auth.ts';
import type { HttpDeps } from '../context.ts';
import { readRawBody } from '../rawBody.ts';
import { isLoopback, securityState } from '../../secureDefaults.ts';
import { formatZodIssues } from '../../zodIssues.ts';

/**
 * POST /api/dev/token `{ org, user, role? }` → `{ token, expiresAt, org, user, role }`: a local-development helper
 * for the dashboard's sign-in. It exists only while callrec runs with the development JWT secret
 * (config.devAuth: neither AUTH_JWT_SECRET nor AUTH_JWKS_URL set), which callrec allows only on a loopback HOST or
 * with CALLREC_INSECURE_DEV=true; with a real secret the route is not even registered (404). It answers only requests from a loopback address (the socket's, never X-Forwarded-For)
 * and only `application/json` bodies (a cross-site form cannot send those without a preflight).
 */

export const DEV_TOKEN_PATH = '/api/dev/token';
export const DEV_TOKEN_TTL_SECONDS = 12 * 3600;

export const DevTokenBody = z
  .object({
    org: z.string().regex(ORG_ID_RE, 'letters, digits, _ and - (1-64)'),
    user: z.string().regex(/^[A-Za-z0-9_.@+-]{1,128}$/, 'letters, digits and _ . @ + - (1-128)'),
    role: z.enum(ROLES).default('member'),
  })
  .strict();

export { isLoopback };

export function registerDevToken(router: Router, deps: HttpDeps) {
  const { config } = deps;
  const mode = securityState(config).mode;
  if (!config.devAuth || config.AUTH_JWT_SECRET !== DEV_JWT_SECRET || (mode !== 'local-only' && mode !== 'insecure-dev')) return;
  router.post(DEV_TOKEN_PATH, async (ctx) => {
    if (!isLoopback(ctx.req.socket.remoteAddress)) throw new CallrecError('forbidden', 'development tokens are handed out to local clients only');
    if (!ctx.is('application/json')) throw new CallrecError('unsupported_media_type', 'send the body as application/json');
    const raw = await readRawBody(ctx.req, 4096);
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new CallrecError('invalid_json');
    }
    const parsed = DevTokenBody.safeParse(json);
    if (!parsed.success) {
      throw new CallrecError('invalid_body', formatZodIssues(parsed.error.issues, { prefix: 'body' }));
    }
    const { org, user, role } = parsed.data;
    const now = deps.clock();
    const token = await signToken({
      secret: DEV_JWT_SECRET,
      orgId: org,
      userId: user,
      role,
      ttlSeconds: DEV_TOKEN_TTL_SECONDS,
      audience: config.AUTH_AUDIENCE,
      issuer: config.AUTH_ISSUER,
      orgClaim: config.AUTH_ORG_CLAIM,
      roleClaim: config.AUTH_ROLE_CLAIM,
      now,
    });
    deps.logger.warn({ orgId: org, userId: user, role }, 'development token issued (AUTH_JWT_SECRET is not set)');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { token, expiresAt: new Date(Math.floor(now.getTime() / 1000) * 1000 + DEV_TOKEN_TTL_SECONDS * 1000).toISOString(), org, user, role };
  });
}
