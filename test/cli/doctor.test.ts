import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectDatabase } from '../../src/db/connect.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createKeyring } from '../../src/privacy/keyring.ts';
import { startFakeSupabaseStorage } from '../fakes/supabaseStorage.ts';
import { startFakeVapiApi } from '../fakes/vapiApi.ts';
import { runCli } from '../support/cli.ts';
import { freePort } from '../support/processes.ts';

/** `callrec doctor` as an operator runs it: one line per check, exit 1 on any failure. */

const test = suite('callrec doctor');
const API_KEY = 'vapi-private-key-for-doctor-tests';
const SERVICE_KEY = 'service-role-key-for-doctor-tests';

/** A DATA_DIR whose embedded database is migrated (a fresh one fails the database check: "run callrec migrate"). */
async function migratedDataDir(): Promise<string> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'callrec-doctor-'));
  const database = await connectDatabase({ pgliteDir: path.join(dataDir, 'pg') });
  await migrate(database);
  await database.close();
  return dataDir;
}

const lineOf = (stdout: string, name: string) => stdout.split('\n').find((l) => new RegExp(`^\\w+\\s+${name}\\b`).test(l)) ?? '';

test('a healthy local setup: every check passes (security warns: loopback only), Vapi checked with one call', async () => {
  const dataDir = await migratedDataDir();
  const vapi = await startFakeVapiApi({ apiKey: API_KEY, assistants: 3 });
  try {
    const r = await runCli(['doctor'], { DATA_DIR: dataDir, VAPI_API_URL: vapi.url, VAPI_API_KEY: API_KEY });
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.match(lineOf(r.stdout, 'configuration'), /^ok /);
    assert.match(lineOf(r.stdout, 'security'), /^warn .*loopback only/);
    assert.match(lineOf(r.stdout, 'database'), /^ok .*schema at \d+_.*\.sql/);
    assert.match(lineOf(r.stdout, 'projections'), /^ok .*lag call_logs 0/);
    assert.match(lineOf(r.stdout, 'pii-master-key'), /^ok .*PII_MASTER_KEY is not set: the first start generates .*pii-master-key/);
    assert.match(lineOf(r.stdout, 'storage'), /^ok .*wrote, read back, signed and deleted callrec-doctor\/probe-/);
    assert.match(lineOf(r.stdout, 'vapi'), /^ok .*VAPI_API_KEY accepted/);
    assert.match(r.stdout, /doctor: all checks passed/);
    assert.is(vapi.requests.length, 1, 'one cheap call');
    assert.is(vapi.requests[0]!.path, '/assistant');
    assert.is(vapi.requests[0]!.query.limit, '1');
    assert.equal(await readdir(path.join(dataDir, 'recordings', 'callrec-doctor')).catch(() => []), [], 'the probe object is gone');
  } finally {
    await vapi.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('Supabase storage that works: the signed URL is downloaded too; without VAPI_API_KEY the Vapi check is skipped', async () => {
  const dataDir = await migratedDataDir();
  const storage = await startFakeSupabaseStorage({ serviceRoleKey: SERVICE_KEY, bucket: 'call-recordings' });
  try {
    const env = { DATA_DIR: dataDir, STORAGE: 'supabase', SUPABASE_URL: storage.url, SUPABASE_SERVICE_ROLE_KEY: SERVICE_KEY };
    const r = await runCli(['doctor'], env);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.match(lineOf(r.stdout, 'storage'), /^ok .*Supabase bucket call-recordings: wrote, read back, signed and deleted/);
    assert.match(lineOf(r.stdout, 'vapi'), /^skip .*VAPI_API_KEY is not set/);
    assert.is(storage.objects.size, 0, 'the probe object is gone');
  } finally {
    await storage.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('broken storage, a wrong Vapi key and an exposed HOST without secrets: each check fails, exit 1', async () => {
  const dataDir = await migratedDataDir();
  const storage = await startFakeSupabaseStorage({ serviceRoleKey: SERVICE_KEY, bucket: 'call-recordings' });
  const vapi = await startFakeVapiApi({ apiKey: API_KEY, assistants: 1 });
  try {
    const env = {
      DATA_DIR: dataDir,
      HOST: '0.0.0.0',
      STORAGE: 'supabase',
      SUPABASE_URL: storage.url,
      SUPABASE_SERVICE_ROLE_KEY: 'not-the-service-role-key',
      VAPI_API_URL: vapi.url,
      VAPI_API_KEY: 'not-the-vapi-key',
    };
    const r = await runCli(['doctor'], env);
    assert.is(r.code, 1, r.stdout + r.stderr);
    assert.match(lineOf(r.stdout, 'security'), /^fail .*AUTH_JWT_SECRET \(or AUTH_JWKS_URL\) and VAPI_WEBHOOK_SECRET/);
    assert.match(lineOf(r.stdout, 'database'), /^ok /, 'the database is fine');
    assert.match(lineOf(r.stdout, 'storage'), /^fail .*could not write the probe object/);
    assert.match(lineOf(r.stdout, 'vapi'), /^fail .*unauthorized \(HTTP 401\)/);
    assert.match(r.stdout, /doctor: 3 check\(s\) failed: security, storage, vapi/);
    assert.not.match(r.stdout + r.stderr, /not-the-vapi-key|not-the-service-role-key/, 'no secret is printed');
  } finally {
    await vapi.close();
    await storage.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('the PII master key: a generated file that unwraps the stored data keys, another key, missing with DATABASE_URL', async () => {
  const dataDir = await migratedDataDir();
  try {
    const key = randomBytes(32);
    await writeFile(path.join(dataDir, 'pii-master-key'), `${key.toString('base64')}\n`, { mode: 0o600 });
    const database = await connectDatabase({ pgliteDir: path.join(dataDir, 'pg') });
    await createKeyring(database, key).ensure('call-doctor', 'org-d', 'call');
    await database.close();

    const generated = await runCli(['doctor'], { DATA_DIR: dataDir });
    assert.is(generated.code, 0, generated.stdout + generated.stderr);
    assert.match(lineOf(generated.stdout, 'pii-master-key'), /^ok .*using the generated file .*pii-master-key \(back it up.*it unwraps the data keys in call_keys/);

    const other = await runCli(['doctor'], { DATA_DIR: dataDir, PII_MASTER_KEY: randomBytes(32).toString('base64') });
    assert.is(other.code, 1);
    assert.match(lineOf(other.stdout, 'pii-master-key'), /^fail .*PII_MASTER_KEY is set, but it does not unwrap the data keys in call_keys/);
    assert.match(other.stdout, /doctor: 1 check\(s\) failed: pii-master-key/);

    const set = await runCli(['doctor'], { DATA_DIR: dataDir, PII_MASTER_KEY: key.toString('base64') });
    assert.match(lineOf(set.stdout, 'pii-master-key'), /^ok .*PII_MASTER_KEY is set; it unwraps the data keys/);

    const port = await freePort();
    const missing = await runCli(['doctor'], { DATA_DIR: dataDir, DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/callrec`, PII_MASTER_KEY: undefined });
    assert.is(missing.code, 1);
    assert.match(lineOf(missing.stdout, 'pii-master-key'), /^fail .*PII_MASTER_KEY is missing: it is required with DATABASE_URL/);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('unmigrated database, unreachable PostgreSQL, invalid configuration: each named, no secret printed', async () => {
  const fresh = await mkdtemp(path.join(tmpdir(), 'callrec-doctor-'));
  const other = await mkdtemp(path.join(tmpdir(), 'callrec-doctor-'));
  try {
    const port = await freePort(); // nothing listens there
    // Three independent runs at once (each is a Node process; the file stays well inside its time limit).
    const [unmigrated, unreachable, invalid] = await Promise.all([
      runCli(['doctor'], { DATA_DIR: fresh }),
      runCli(['doctor'], { DATA_DIR: other, DATABASE_URL: `postgres://postgres:pg-password-xyz@127.0.0.1:${port}/callrec` }),
      runCli(['doctor'], { RECORDING_SIGNING_SECRET: 'short-secret', METRICS_TOKEN: 'tiny-token', PORT: 'eighty' }),
    ]);
    assert.is(unmigrated.code, 1, unmigrated.stdout + unmigrated.stderr);
    assert.match(lineOf(unmigrated.stdout, 'database'), /^fail .*run callrec migrate/);

    assert.is(unreachable.code, 1, unreachable.stdout + unreachable.stderr);
    assert.match(lineOf(unreachable.stdout, 'database'), /^fail .*PostgreSQL \(DATABASE_URL\) is not reachable/);
    assert.match(lineOf(unreachable.stdout, 'storage'), /^ok /, 'the other checks still run');
    assert.not.match(unreachable.stdout + unreachable.stderr, /pg-password-xyz/);

    // An invalid configuration: one failing line per variable, naming the rule and never the value.
    assert.is(invalid.code, 1);
    assert.match(invalid.stdout, /fail {2}configuration +RECORDING_SIGNING_SECRET: must be at least 16 characters/);
    assert.match(invalid.stdout, /fail {2}configuration +METRICS_TOKEN: must be at least 16 characters/);
    assert.match(invalid.stdout, /fail {2}configuration +PORT: must be a number/);
    assert.not.match(invalid.stdout + invalid.stderr, /short-secret|tiny-token|eighty/);
  } finally {
    await rm(fresh, { recursive: true, force: true });
    await rm(other, { recursive: true, force: true });
  }
});

test.run();
