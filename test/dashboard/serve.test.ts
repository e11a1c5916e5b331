import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { dashboardCsp, loadDashboardAssets, mediaOrigins } from '../../src/http/routes/dashboard.ts';
import { isLoopback } from '../../src/http/routes/devToken.ts';
import { pgliteBackend } from '../support/databases.ts';
import { startTestService, type TestService } from '../support/service.ts';

/** The page and its files over HTTP, and the development token helper: present only with the dev secret. */

const test = suite('dashboard: page, assets and the development token');
const REAL_SECRET = 'a-real-secret-for-the-dashboard-tests-0123456789';

let dev: TestService | undefined;
let real: TestService | undefined;
let dataDir = '';

const mint = (s: TestService, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${s.url}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

test.before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'callrec-dashboard-serve-'));
  // both on one PGlite database: the routes under test do not depend on its content
  const t = await pgliteBackend.open();
  const shared = { name: 'pglite' as const, open: async () => ({ ...t, close: async () => {} }) };
  dev = await startTestService(shared, { DATA_DIR: dataDir, HOST: '0.0.0.0', CALLREC_INSECURE_DEV: 'true' }, { background: false });
  real = await startTestService(shared, { DATA_DIR: dataDir, AUTH_JWT_SECRET: REAL_SECRET }, { background: false });
  const close = real.close.bind(real);
  real.close = async () => {
    await close();
    await t.close();
  };
});

test.after(async () => {
  try {
    await dev?.close();
  } finally {
    await real?.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('GET / answers the page with a strict CSP and no inline script or style', async () => {
  const res = await fetch(`${dev!.url}/`);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', 'text/html');
  const csp = res.headers.get('content-security-policy') ?? '';
  for (const part of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) assert.match(csp, part);
  assert.not.match(csp, 'unsafe');
  assert.is(res.headers.get('x-content-type-options'), 'nosniff');
  assert.is(res.headers.get('referrer-policy'), 'no-referrer');
  const html = await res.text();
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
  assert.ok(scripts.length >= 1);
  for (const [, attrs, body] of scripts) {
    assert.match(attrs!, /src="\/dashboard\/[a-z]+\.js"/);
    assert.is(body!.trim(), '', 'no inline script');
  }
  assert.not.match(html, /<style\b/i);
  assert.not.match(html, /\sstyle=/i);
  assert.not.match(html, /\son[a-z]+=/i, 'no inline event handlers');
});

test('assets: JavaScript modules and CSS with their types, ETag revalidation, nothing else served', async () => {
  const js = await fetch(`${dev!.url}/dashboard/app.js`);
  assert.is(js.status, 200);
  assert.match(js.headers.get('content-type') ?? '', 'text/javascript');
  const etag = js.headers.get('etag');
  assert.ok(etag);
  const again = await fetch(`${dev!.url}/dashboard/app.js`, { headers: { 'if-none-match': etag! } });
  assert.is(again.status, 304);
  const css = await fetch(`${dev!.url}/dashboard/app.css`);
  assert.is(css.status, 200);
  assert.match(css.headers.get('content-type') ?? '', 'text/css');
  // every module the page imports exists
  const names = [...loadDashboardAssets().keys()];
  for (const name of names.filter((n) => n.endsWith('.js'))) {
    const source = await (await fetch(`${dev!.url}/dashboard/${name}`)).text();
    for (const [, imported] of source.matchAll(/from '\.\/([a-z]+\.js)'/g)) assert.ok(names.includes(imported!), `${name} imports ${imported}`);
    assert.not.match(source, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, `${name} builds no markup from strings`);
  }
  for (const p of ['/dashboard/format.d.ts', '/dashboard/..%2Fpackage.json', '/dashboard/../../package.json', '/dashboard/nope.js', '/dashboard/index.html']) {
    const r = await fetch(`${dev!.url}${p}`);
    assert.is(r.status, 404, p);
  }
});

test('config.json tells the page whether development sign-in exists', async () => {
  assert.equal(await (await fetch(`${dev!.url}/dashboard/config.json`)).json(), { devAuth: true, orgClaim: 'org_id', roleClaim: 'role', urlExpirySeconds: 3600 });
  assert.is(((await (await fetch(`${real!.url}/dashboard/config.json`)).json()) as { devAuth: boolean }).devAuth, false);
});

test('POST /api/dev/token mints a working token with the development secret', async () => {
  const res = await mint(dev!, { org: 'default', user: 'dana', role: 'auditor' });
  assert.is(res.status, 200);
  assert.is(res.headers.get('cache-control'), 'no-store');
  const body = (await res.json()) as { token: string; expiresAt: string; org: string; user: string; role: string };
  assert.equal({ org: body.org, user: body.user, role: body.role }, { org: 'default', user: 'dana', role: 'auditor' });
  const hours = (Date.parse(body.expiresAt) - Date.now()) / 3_600_000;
  assert.ok(hours > 11.9 && hours <= 12, `expires in ${hours} h`);
  const calls = await fetch(`${dev!.url}/api/calls`, { headers: { authorization: `Bearer ${body.token}` } });
  assert.is(calls.status, 200);
  // the role is in the token: an auditor route accepts it, a member's token is refused there
  const downloads = await fetch(`${dev!.url}/api/audit/downloads`, { headers: { authorization: `Bearer ${body.token}` } });
  assert.is(downloads.status, 200);
  const memberToken = ((await (await mint(dev!, { org: 'default', user: 'max' })).json()) as { token: string; role: string });
  assert.is(memberToken.role, 'member');
  assert.is((await fetch(`${dev!.url}/api/audit/downloads`, { headers: { authorization: `Bearer ${memberToken.token}` } })).status, 403);
});

test('POST /api/dev/token refuses bad input and non-JSON bodies', async () => {
  const cases: Array<[unknown, number, string, Record<string, string>?]> = [
    [{ org: 'a b', user: 'x' }, 400, 'invalid_body'],
    [{ org: 'default', user: '' }, 400, 'invalid_body'],
    [{ org: 'default', user: 'x', role: 'root' }, 400, 'invalid_body'],
    [{ org: 'default', user: 'x', extra: 1 }, 400, 'invalid_body'],
    ['{not json', 400, 'invalid_json'],
    ['org=default&user=x', 415, 'unsupported_media_type', { 'content-type': 'application/x-www-form-urlencoded' }],
    [{ org: 'default', user: 'x'.repeat(5000) }, 413, 'payload_too_large'],
  ];
  for (const [body, status, code, headers] of cases) {
    const res = await mint(dev!, body, headers);
    assert.is(res.status, status, JSON.stringify(body).slice(0, 60));
    assert.is(((await res.json()) as { error: { code: string } }).error.code, code);
  }
});

test('with a real AUTH_JWT_SECRET there is no development token route (404), and the page still works', async () => {
  assert.is(real!.config.devAuth, false);
  const res = await mint(real!, { org: 'default', user: 'eve', role: 'admin' });
  assert.is(res.status, 404);
  assert.is(((await res.json()) as { error: { code: string } }).error.code, 'not_found');
  assert.is((await fetch(`${real!.url}/api/dev/token`)).status, 404);
  assert.is((await fetch(`${real!.url}/`)).status, 200);
});

test('development tokens go to loopback clients only', async () => {
  assert.is(isLoopback('127.0.0.1'), true);
  assert.is(isLoopback('::1'), true);
  assert.is(isLoopback('::ffff:127.0.0.1'), true);
  assert.is(isLoopback('192.0.2.2'), false);
  assert.is(isLoopback('10.0.0.1'), false);
  assert.is(isLoopback(undefined), false);
  // over a real non-loopback interface of this machine, when it has one (the dev service listens on 0.0.0.0)
  const external = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
  if (external) {
    const port = new URL(dev!.url).port;
    const res = await fetch(`http://${external.address}:${port}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ org: 'default', user: 'x' }) });
    assert.is(res.status, 403, `from ${external.address}`);
  }
});

test('CSP media-src allows the recording storage origin', () => {
  const local = loadConfig({ PUBLIC_BASE_URL: 'https://calls.example.com' });
  assert.equal(mediaOrigins(local), ['https://calls.example.com']);
  const supa = loadConfig({ STORAGE: 'supabase', SUPABASE_URL: 'https://abc.supabase.co/', SUPABASE_SERVICE_ROLE_KEY: 'k' });
  assert.equal(mediaOrigins(supa), ['https://abc.supabase.co']);
  assert.match(dashboardCsp(['https://abc.supabase.co']), "media-src 'self' https://abc.supabase.co");
});

test.run();
