import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { parseTtl, signToken } from '../../src/auth/tokens.ts';
import { callerFromClaims, createAuthenticator } from '../../src/http/auth.ts';
import { pgliteBackend } from '../support/databases.ts';
import { JWT_SECRET, openSse, startApi, type ApiHarness } from './support.ts';

/**
 * Bearer-token auth of /api through a real service: HS256 with the shared secret, RS256/ES256 from a JWKS
 * served on a local port (as Supabase or any identity provider serves it), expiry, audience, `alg: none`,
 * org and role claims, the EventSource token places, and the `callrec token` command.
 */

const AUD = 'authenticated';

interface Keys {
  rsa: { privateKey: CryptoKey; jwk: JWK };
  ec: { privateKey: CryptoKey; jwk: JWK };
  stranger: { privateKey: CryptoKey };
}

async function keys(): Promise<Keys> {
  const rsa = await generateKeyPair('RS256');
  const ec = await generateKeyPair('ES256');
  const stranger = await generateKeyPair('RS256');
  return {
    rsa: { privateKey: rsa.privateKey, jwk: { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' } },
    ec: { privateKey: ec.privateKey, jwk: { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' } },
    stranger: { privateKey: stranger.privateKey },
  };
}

/** A JWKS endpoint on 127.0.0.1, as an identity provider serves it. */
async function jwksServer(jwks: JWK[]): Promise<{ url: string; hits: () => number; close(): Promise<void> }> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: jwks }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/.well-known/jwks.json`, hits: () => hits, close: () => new Promise((r) => server.close(() => r())) };
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

const unit = suite('auth claims (pure)');
unit('org and role: top level, then app_metadata; unknown roles fall through to member', () => {
  const cfg = { AUTH_ORG_CLAIM: 'org_id', AUTH_ROLE_CLAIM: 'role' };
  assert.equal(callerFromClaims({ sub: 'u', org_id: 'o1', role: 'auditor' }, cfg), { ok: true, caller: { userId: 'u', orgId: 'o1', role: 'auditor' } });
  // Supabase: role "authenticated" at the top, ours under app_metadata.
  assert.equal(callerFromClaims({ sub: 'u', role: 'authenticated', app_metadata: { org_id: 'o2', role: 'admin' } }, cfg), { ok: true, caller: { userId: 'u', orgId: 'o2', role: 'admin' } });
  assert.equal(callerFromClaims({ sub: 'u', role: 'authenticated', app_metadata: { org_id: 'o2' } }, cfg), { ok: true, caller: { userId: 'u', orgId: 'o2', role: 'member' } });
  assert.equal(callerFromClaims({ sub: 'u', org_id: 'o1', role: 'superuser' }, cfg), { ok: true, caller: { userId: 'u', orgId: 'o1', role: 'member' } });
  assert.is((callerFromClaims({ sub: 'u' }, cfg) as { code: string }).code, 'forbidden');
  assert.is((callerFromClaims({ sub: 'u', org_id: 'a/b' }, cfg) as { code: string }).code, 'forbidden');
  assert.is((callerFromClaims({ org_id: 'o' }, cfg) as { code: string }).code, 'invalid_token');
  assert.is((callerFromClaims({ sub: 'u', org_id: 42 }, cfg) as { code: string }).code, 'forbidden');
  // A configurable claim path.
  const custom = { AUTH_ORG_CLAIM: 'tenant.id', AUTH_ROLE_CLAIM: 'callrec_role' };
  assert.equal(callerFromClaims({ sub: 'u', tenant: { id: 't9' }, callrec_role: 'auditor' }, custom), { ok: true, caller: { userId: 'u', orgId: 't9', role: 'auditor' } });
  assert.equal(callerFromClaims({ sub: 'u', app_metadata: { tenant: { id: 't8' }, callrec_role: 'admin' } }, custom), { ok: true, caller: { userId: 'u', orgId: 't8', role: 'admin' } });
});
unit('ttl parsing', () => {
  assert.is(parseTtl('1h'), 3600);
  assert.is(parseTtl('15m'), 900);
  assert.is(parseTtl('30s'), 30);
  assert.is(parseTtl('7d'), 604_800);
  assert.is(parseTtl('120'), 120);
  assert.is(parseTtl('0s'), undefined);
  assert.is(parseTtl('1y'), undefined);
  assert.is(parseTtl('-1h'), undefined);
});
unit('an unreachable key set is a 503 (auth_unavailable), not a 401', async () => {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  const k = await generateKeyPair('RS256');
  const token = await new SignJWT({ org_id: 'o' }).setProtectedHeader({ alg: 'RS256', kid: 'x' }).setSubject('u').setExpirationTime('1h').sign(k.privateKey);
  const auth = createAuthenticator({ AUTH_JWKS_URL: `http://127.0.0.1:${port}/jwks.json`, AUTH_ORG_CLAIM: 'org_id', AUTH_ROLE_CLAIM: 'role' } as never);
  const r = await auth.verify(token);
  assert.equal(r.ok ? 'ok' : r.code, 'auth_unavailable');
});
unit.run();

const test = suite<{ h: ApiHarness; jwks: Awaited<ReturnType<typeof jwksServer>>; keys: Keys }>('bearer tokens through HTTP');
test.before(async (ctx) => {
  ctx.keys = await keys();
  ctx.jwks = await jwksServer([ctx.keys.rsa.jwk, ctx.keys.ec.jwk]);
  ctx.h = await startApi(pgliteBackend, { AUTH_JWKS_URL: ctx.jwks.url, AUTH_AUDIENCE: AUD });
});
test.after(async (ctx) => {
  await ctx.h?.close();
  await ctx.jwks?.close();
});

const hs = (claims: Record<string, unknown>, opts: { secret?: string; exp?: number; aud?: string | null; sub?: string | null } = {}) => {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(opts.exp ?? now() + 600);
  if (opts.sub !== null) jwt = jwt.setSubject(opts.sub ?? 'user-1');
  if (opts.aud !== null) jwt = jwt.setAudience(opts.aud ?? AUD);
  return jwt.sign(new TextEncoder().encode(opts.secret ?? JWT_SECRET));
};

test('no token → 401 unauthorized with WWW-Authenticate; a malformed one → 401 invalid_token', async ({ h }) => {
  const r = await h.get('/api/calls');
  assert.is(r.status, 401);
  assert.is(r.body.error.code, 'unauthorized');
  assert.is(r.headers.get('www-authenticate'), 'Bearer');
  for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer not.a.jwt!', 'Bearer a.b.c']) {
    const x = await h.get('/api/calls', undefined, { authorization: header });
    assert.is(x.status, 401, header);
    assert.is(x.body.error.code, 'invalid_token', header);
  }
});

test('HS256 with the secret works; wrong secret, expired, missing or wrong audience do not', async ({ h }) => {
  assert.is((await h.get('/api/calls', await hs({ org_id: 'o1' }))).status, 200);
  const cases: Array<[string, Promise<string>, RegExp]> = [
    ['wrong secret', hs({ org_id: 'o1' }, { secret: 'another-secret-another-secret-1234' }), /signature/],
    ['expired', hs({ org_id: 'o1' }, { exp: now() - 60 }), /expired/],
    ['no audience', hs({ org_id: 'o1' }, { aud: null }), /aud/],
    ['wrong audience', hs({ org_id: 'o1' }, { aud: 'someone-else' }), /aud/],
    ['no subject', hs({ org_id: 'o1' }, { sub: null }), /sub/],
  ];
  for (const [label, token, message] of cases) {
    const r = await h.get('/api/calls', await token);
    assert.is(r.status, 401, label);
    assert.is(r.body.error.code, 'invalid_token', label);
    assert.match(r.body.error.message, message, label);
  }
  // No exp at all is refused too.
  const noExp = await new SignJWT({ org_id: 'o1' }).setProtectedHeader({ alg: 'HS256' }).setSubject('u').setAudience(AUD).sign(new TextEncoder().encode(JWT_SECRET));
  assert.is((await h.get('/api/calls', noExp)).status, 401);
});

test('alg none and other algorithms are refused', async ({ h, keys }) => {
  const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'user-1', org_id: 'o1', role: 'admin', aud: AUD, exp: now() + 600 })}.`;
  const r = await h.get('/api/calls', unsigned);
  assert.is(r.status, 401);
  assert.is(r.body.error.code, 'invalid_token');
  const noneUpper = `${b64({ alg: 'NONE' })}.${b64({ sub: 'user-1', org_id: 'o1', aud: AUD, exp: now() + 600 })}.`;
  assert.is((await h.get('/api/calls', noneUpper)).status, 401);
  const hs512 = await new SignJWT({ org_id: 'o1' }).setProtectedHeader({ alg: 'HS512' }).setSubject('u').setAudience(AUD).setExpirationTime('10m').sign(new TextEncoder().encode(JWT_SECRET));
  assert.is((await h.get('/api/calls', hs512)).status, 401);
  // An HS256 token whose "secret" is the public key (the classic key-confusion attack) is just a wrong secret.
  const confused = await hs({ org_id: 'o1' }, { secret: JSON.stringify(keys.rsa.jwk) });
  assert.is((await h.get('/api/calls', confused)).status, 401);
});

test('RS256 and ES256 tokens verify against the JWKS; a key not in it does not', async ({ h, keys }) => {
  const sign = (alg: 'RS256' | 'ES256', key: CryptoKey, kid: string) =>
    new SignJWT({ role: 'authenticated', app_metadata: { org_id: 'org-jwks', role: 'auditor' } })
      .setProtectedHeader({ alg, kid })
      .setSubject('jwks-user')
      .setAudience(AUD)
      .setExpirationTime('10m')
      .sign(key);
  const rs = await h.get('/api/audit/downloads', await sign('RS256', keys.rsa.privateKey, 'rsa-1'));
  assert.is(rs.status, 200, JSON.stringify(rs.body));
  const es = await h.get('/api/audit/downloads', await sign('ES256', keys.ec.privateKey, 'ec-1'));
  assert.is(es.status, 200);
  const stranger = await h.get('/api/calls', await sign('RS256', keys.stranger.privateKey, 'rsa-1'));
  assert.is(stranger.status, 401);
  const unknownKid = await h.get('/api/calls', await sign('RS256', keys.stranger.privateKey, 'nope'));
  assert.is(unknownKid.status, 401);
});

test('no org → 403; role decides the auditor routes (403 for members)', async ({ h }) => {
  const noOrg = await h.get('/api/calls', await hs({ role: 'admin' }));
  assert.is(noOrg.status, 403);
  assert.is(noOrg.body.error.code, 'forbidden');
  const member = await hs({ org_id: 'o1' });
  assert.is((await h.get('/api/audit/downloads', member)).status, 403);
  assert.is((await h.get('/api/calls/abc/history', member)).status, 403);
  const supabaseAuditor = await hs({ role: 'authenticated', app_metadata: { org_id: 'o1', role: 'auditor' } });
  assert.is((await h.get('/api/audit/downloads', supabaseAuditor)).status, 200);
  assert.is((await h.get('/api/calls/abc/history', supabaseAuditor)).status, 404);
  assert.is((await h.get('/api/audit/downloads', await hs({ org_id: 'o1', role: 'admin' }))).status, 200);
});

test('the token may come as ?access_token= or cookie only for the event stream', async ({ h }) => {
  const token = await hs({ org_id: 'o1' });
  const q = await h.get(`/api/calls?access_token=${token}`);
  assert.is(q.status, 401, 'no query tokens on ordinary routes (they end up in logs)');
  const c = await h.get('/api/calls', undefined, { cookie: `access_token=${token}` });
  assert.is(c.status, 401);
  const viaQuery = await openSse(`${h.service.url}/api/events?access_token=${token}`);
  try {
    assert.is(viaQuery.status, 200);
  } finally {
    viaQuery.close();
  }
  const viaCookie = await openSse(`${h.service.url}/api/events`, { cookie: `access_token=${token}` });
  try {
    assert.is(viaCookie.status, 200);
  } finally {
    viaCookie.close();
  }
  const bad = await openSse(`${h.service.url}/api/events?access_token=${token}x`);
  try {
    assert.is(bad.status, 401);
  } finally {
    bad.close();
  }
});

test('`callrec token` prints a token the API accepts', async ({ h }) => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'token', ...args], {
      env: { ...process.env, AUTH_JWT_SECRET: JWT_SECRET, AUTH_AUDIENCE: AUD, LOG_LEVEL: 'silent' },
      encoding: 'utf8',
      timeout: 30_000,
    });
  const ok = run(['--org', 'org-cli', '--user', 'cli-user', '--role', 'auditor', '--ttl', '15m']);
  assert.is(ok.status, 0, ok.stderr);
  const token = ok.stdout.trim();
  const [, payload] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
  assert.is(claims.sub, 'cli-user');
  assert.is(claims.org_id, 'org-cli');
  assert.is(claims.role, 'auditor');
  assert.is(claims.aud, AUD);
  assert.is(claims.exp - claims.iat, 900);
  assert.is((await h.get('/api/audit/downloads', token)).status, 200);
  const bad = run(['--org', 'org-cli', '--user', 'u', '--role', 'root']);
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /--role/);
  const noOrg = run(['--user', 'u']);
  assert.is(noOrg.status, 2);
  // The helper used by the other tests issues the same kind of token.
  assert.is((await h.get('/api/calls', await signToken({ secret: JWT_SECRET, orgId: 'o', userId: 'u', audience: AUD }))).status, 200);
});

test.run();
