import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { signToken } from '../../src/auth/tokens.ts';
import { DEV_JWT_SECRET, loadConfig } from '../../src/config.ts';
import { securityState } from '../../src/secureDefaults.ts';
import { pgliteBackend, TEST_DATABASE_URL } from '../support/databases.ts';
import { freePort } from '../support/processes.ts';
import { startTestService } from '../support/service.ts';

/**
 * Secure by default, tried as a new user would: `src/main.ts` started as a real process with production-like
 * variables but a forgotten secret must refuse to start; loopback and CALLREC_INSECURE_DEV are the only ways
 * to run without secrets; a token signed with the development secret is worthless once a real secret is set.
 */

const test = suite('secure by default');

interface Exit {
  code: number | null;
  output: string;
}

/** Runs `npm start`'s entry point until it exits (or until /health answers, then stops it). */
function startMain(env: Record<string, string>, port: number): Promise<Exit & { healthy: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/main.ts')], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', PORT: String(port), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let healthy = false;
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const poll = setInterval(async () => {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) {
          healthy = true;
          clearInterval(poll);
          child.kill('SIGTERM');
        }
      } catch {}
    }, 200);
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ code, output, healthy });
    });
  });
}

test('production variables without AUTH_JWT_SECRET on 0.0.0.0: start-up stops, naming the variables', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'callrec-secure-'));
  try {
    const base = { NODE_ENV: 'production', DATABASE_URL: TEST_DATABASE_URL, HOST: '0.0.0.0', DATA_DIR: dataDir };
    const noAuth = await startMain({ ...base, VAPI_WEBHOOK_SECRET: 'a-webhook-secret-0123456789' }, await freePort());
    assert.is(noAuth.code, 2, noAuth.output);
    assert.not.ok(noAuth.healthy);
    assert.match(noAuth.output, /AUTH_JWT_SECRET \(or AUTH_JWKS_URL\)/);
    assert.match(noAuth.output, /CALLREC_INSECURE_DEV=true/);
    assert.not.match(noAuth.output, /VAPI_WEBHOOK_SECRET \(or/, 'the webhook secret is set: only the missing variable is named');
    assert.not.match(noAuth.output, /a-webhook-secret-0123456789/);

    const noWebhook = await startMain({ ...base, AUTH_JWT_SECRET: 'a-real-jwt-secret-0123456789abcdef' }, await freePort());
    assert.is(noWebhook.code, 2, noWebhook.output);
    assert.match(noWebhook.output, /VAPI_WEBHOOK_SECRET \(or VAPI_WEBHOOK_HMAC_SECRET\)/);
    assert.not.match(noWebhook.output, /a-real-jwt-secret/);

    const neither = await startMain({ ...base }, await freePort());
    assert.is(neither.code, 2, neither.output);
    assert.match(neither.output, /set AUTH_JWT_SECRET \(or AUTH_JWKS_URL\) and VAPI_WEBHOOK_SECRET \(or VAPI_WEBHOOK_HMAC_SECRET\)/);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('with no secrets and no HOST, `npm start` still just works, on loopback only', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'callrec-secure-'));
  try {
    const r = await startMain({ DATA_DIR: dataDir }, await freePort());
    assert.ok(r.healthy, r.output);
    assert.match(r.output, /serving on loopback only/);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('HOST defaults: 127.0.0.1 unless both secrets are set; what each combination allows', () => {
  const c = (env: Record<string, string>) => loadConfig(env);
  assert.is(c({}).HOST, '127.0.0.1');
  assert.is(c({ AUTH_JWT_SECRET: 's' }).HOST, '127.0.0.1');
  assert.is(c({ AUTH_JWKS_URL: 'https://ref.supabase.co/auth/v1/.well-known/jwks.json', VAPI_WEBHOOK_HMAC_SECRET: 'h' }).HOST, '0.0.0.0');
  assert.is(securityState(c({})).mode, 'local-only');
  assert.is(securityState(c({ HOST: '::1' })).mode, 'local-only');
  assert.is(securityState(c({ HOST: 'localhost' })).mode, 'local-only');
  assert.is(securityState(c({ HOST: '0.0.0.0' })).mode, 'refused');
  assert.is(securityState(c({ HOST: '10.0.0.5', VAPI_WEBHOOK_SECRET: 'w' })).mode, 'refused');
  assert.is(securityState(c({ HOST: '0.0.0.0', CALLREC_INSECURE_DEV: 'true' })).mode, 'insecure-dev');
  assert.is(securityState(c({ AUTH_JWT_SECRET: 's', VAPI_WEBHOOK_SECRET: 'w' })).mode, 'secured');
});

test('a token signed with the development secret is refused once a real secret is set; no dev-token route', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'callrec-secure-'));
  const real = 'the-operators-real-jwt-secret-0123456789';
  const svc = await startTestService(pgliteBackend, { DATA_DIR: dataDir, AUTH_JWT_SECRET: real, VAPI_WEBHOOK_SECRET: 'webhook-secret-0123456789' }, { background: false });
  try {
    const forged = await signToken({ secret: DEV_JWT_SECRET, orgId: 'any-org', userId: 'mallory', role: 'admin' });
    const res = await fetch(`${svc.url}/api/calls`, { headers: { authorization: `Bearer ${forged}` } });
    assert.is(res.status, 401);
    assert.is(((await res.json()) as { error: { code: string } }).error.code, 'invalid_token');
    const good = await signToken({ secret: real, orgId: 'any-org', userId: 'alice', role: 'member' });
    assert.is((await fetch(`${svc.url}/api/calls`, { headers: { authorization: `Bearer ${good}` } })).status, 200);
    const mint = await fetch(`${svc.url}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ org: 'a', user: 'b', role: 'admin' }) });
    assert.is(mint.status, 404);
    const webhook = await svc.post('/webhooks/vapi', { message: { type: 'status-update', status: 'ended', call: { id: 'c1' } } });
    assert.is(webhook.status, 401, 'an unauthenticated webhook is refused');
  } finally {
    await svc.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();
