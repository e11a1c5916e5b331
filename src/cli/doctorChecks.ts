import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import type { Config } from '../config.ts';
import { migrationsDir } from '../db/migrate.ts';
import { PROJECTOR_NAMES } from '../projections/all.ts';
import { describeSecurityState, securityState } from '../secureDefaults.ts';
import { createStorageFromConfig } from '../storage/factory.ts';
import { createVapiClient } from '../vapi/restClient.ts';
import { openDatabase, openSealedEventStore } from '../db/open.ts';
import { createLogger } from '../log.ts';
import { createKeyring } from '../privacy/keyring.ts';

/** One line of `callrec doctor`: `fail` makes the command exit non-zero; `warn` and `skip` do not. */
export interface CheckResult {
  name: string;
  status: 'ok' | 'warn' | 'skip' | 'fail';
  detail: string;
}

const DEADLINE_MS = 15_000;

async function withDeadline<T>(what: string, p: Promise<T>, ms = DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function checkSecurity(config: Config): CheckResult {
  const state = securityState(config);
  const status = state.mode === 'secured' ? 'ok' : state.mode === 'refused' ? 'fail' : 'warn';
  return { name: 'security', status, detail: describeSecurityState(state) };
}

/** Reachable, every migration applied (and none unknown to this version), projections caught up with the log. */
export async function checkDatabase(config: Config): Promise<CheckResult[]> {
  const where = config.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite at ${config.pgliteDir}`;
  let database;
  try {
    database = await withDeadline('the database', openDatabase(config));
  } catch (err) {
    return [{ name: 'database', status: 'fail', detail: `${where} is not reachable: ${message(err)}` }];
  }
  const results: CheckResult[] = [];
  try {
    try {
      await withDeadline('the database', sql`select 1`.execute(database.db));
    } catch (err) {
      return [{ name: 'database', status: 'fail', detail: `${where} is not reachable: ${message(err)}` }];
    }
    const files = (await readdir(migrationsDir)).filter((f) => f.endsWith('.sql')).sort();
    let applied: string[] = [];
    try {
      applied = (await withDeadline('the database', database.db.selectFrom('schema_migrations').select('name').execute())).map((r) => r.name);
    } catch (err) {
      results.push({ name: 'database', status: 'fail', detail: `${where} is reachable but has no callrec schema (${message(err)}): run callrec migrate` });
      return results;
    }
    const pending = files.filter((f) => !applied.includes(f));
    const unknown = applied.filter((f) => !files.includes(f));
    const latest = files[files.length - 1] ?? '(none)';
    if (pending.length > 0) {
      results.push({ name: 'database', status: 'fail', detail: `${where}: ${pending.length} migration(s) not applied (${pending.join(', ')}): run callrec migrate (the service applies them at start)` });
    } else if (unknown.length > 0) {
      results.push({ name: 'database', status: 'warn', detail: `${where}: schema is newer than this callrec (${unknown.join(', ')} unknown here)` });
    } else {
      results.push({ name: 'database', status: 'ok', detail: `${where} reachable, schema at ${latest} (${files.length} migrations)` });
    }

    const logger = createLogger('silent');
    // Positions only: no event data is read, so the store without the privacy wrapper (no key needed) will do.
    const store = await openSealedEventStore(config, database, logger);
    try {
      const head = Number(await withDeadline('the event store', store.headPosition()));
      const rows = await database.db.selectFrom('checkpoints').select(['name', 'position']).execute();
      const at = new Map(rows.map((r) => [r.name, Number(r.position)]));
      const lag = PROJECTOR_NAMES.map((name) => [name, head - (at.get(name) ?? 0)] as const);
      const worst = Math.max(0, ...lag.map(([, l]) => l));
      const text = `log head ${head} (${store.kind}); lag ${lag.map(([n, l]) => `${n} ${l}`).join(', ')}`;
      results.push({
        name: 'projections',
        status: worst > config.READY_MAX_LAG_EVENTS ? 'fail' : 'ok',
        detail: worst > config.READY_MAX_LAG_EVENTS ? `${text}: more than READY_MAX_LAG_EVENTS=${config.READY_MAX_LAG_EVENTS} behind (is an instance with BACKGROUND_WORK=true running?)` : text,
      });
    } catch (err) {
      results.push({ name: 'projections', status: 'fail', detail: `could not compare the projections with the log: ${message(err)}` });
    } finally {
      await store.close();
    }
  } finally {
    await withDeadline('closing the database', database.close()).catch(() => undefined);
  }
  return results;
}

/**
 * PII_MASTER_KEY: set, a generated file (embedded database), or missing where it is required. When there is a
 * key and the database holds data keys, one of them is unwrapped to prove it is the key they were written with.
 * Never generates a key (the first start does).
 */
export async function checkMasterKey(config: Config): Promise<CheckResult> {
  const name = 'pii-master-key';
  const file = path.join(path.resolve(config.DATA_DIR), 'pii-master-key');
  let master: Buffer;
  let source: string;
  if (config.PII_MASTER_KEY) {
    master = Buffer.from(config.PII_MASTER_KEY, 'base64');
    source = 'PII_MASTER_KEY is set';
  } else if (config.DATABASE_URL && !config.CALLREC_INSECURE_DEV) {
    return { name, status: 'fail', detail: 'PII_MASTER_KEY is missing: it is required with DATABASE_URL (32 random bytes in base64: openssl rand -base64 32; the same on every instance); the service and the CLI refuse to start without it' };
  } else {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return { name, status: 'fail', detail: `${file} cannot be read: ${message(err)}` };
      return { name, status: 'ok', detail: `PII_MASTER_KEY is not set: the first start generates ${file} (back it up, apart from the database)` };
    }
    master = Buffer.from(text.trim(), 'base64');
    if (master.length !== 32) return { name, status: 'fail', detail: `${file} does not hold 32 bytes in base64` };
    source = `PII_MASTER_KEY is not set: using the generated file ${file} (back it up, apart from the database: without it personal data cannot be read)`;
  }
  // Does it unwrap a data key of this database? (Skipped when the database is unreachable or holds none: the database check says why.)
  let database;
  try {
    database = await withDeadline('the database', openDatabase(config));
    const row = await withDeadline(
      'the database',
      database.db.selectFrom('call_keys').select(['call_id', 'purpose']).where('wrapped_key', 'is not', null).limit(1).executeTakeFirst(),
    );
    if (!row) return { name, status: 'ok', detail: `${source}; no data keys stored yet` };
    try {
      await createKeyring(database, master).get(row.call_id, row.purpose);
    } catch {
      return { name, status: 'fail', detail: `${source}, but it does not unwrap the data keys in call_keys: the database was written with another PII_MASTER_KEY (personal data is unreadable until the original key is restored)` };
    }
    return { name, status: 'ok', detail: `${source}; it unwraps the data keys in call_keys` };
  } catch {
    return { name, status: 'ok', detail: source };
  } finally {
    await database?.close().catch(() => undefined);
  }
}

/** Writes, reads back, signs and deletes a probe object through the storage port. */
export async function checkStorage(config: Config): Promise<CheckResult> {
  const where = config.STORAGE === 'supabase' ? `Supabase bucket ${config.SUPABASE_BUCKET}` : `local disk ${config.recordingsDir}`;
  const probe = `callrec-doctor/probe-${randomBytes(6).toString('hex')}.txt`;
  const dir = await mkdtemp(path.join(tmpdir(), 'callrec-doctor-'));
  const body = `callrec doctor probe ${new Date().toISOString()}\n`;
  let step = 'open';
  try {
    const { storage } = await createStorageFromConfig(config, { publicBaseUrl: config.publicBaseUrl });
    const file = path.join(dir, 'probe.txt');
    await writeFile(file, body);
    step = 'write';
    const put = await withDeadline('storage', storage.put(probe, file, { contentType: 'text/plain' }));
    if (!put.ok) throw new Error(`${put.error.code}: ${put.error.message}`);
    step = 'read back';
    const stat = await withDeadline('storage', storage.stat(probe));
    if (!stat.ok) throw new Error(`${stat.error.code}: ${stat.error.message}`);
    if (!stat.value || stat.value.bytes !== Buffer.byteLength(body)) throw new Error(`the probe came back with ${stat.value ? `${stat.value.bytes} bytes` : 'nothing'} instead of ${Buffer.byteLength(body)} bytes`);
    step = 'sign';
    const signed = await withDeadline('storage', storage.createSignedUrl(probe, 60));
    if (!signed.ok) throw new Error(`${signed.error.code}: ${signed.error.message}`);
    if (config.STORAGE === 'supabase') {
      // Supabase serves its signed URLs itself: fetch one, as a dashboard would. (Local URLs are served by callrec.)
      step = 'download the signed URL of';
      const res = await withDeadline('storage', fetch(signed.value.url));
      const text = await res.text();
      if (!res.ok || text !== body) throw new Error(`the signed URL answered ${res.status}${res.ok ? ' with other content' : ''}`);
    }
    step = 'delete';
    const removed = await withDeadline('storage', storage.remove([probe]));
    if (!removed.ok) throw new Error(`${removed.error.code}: ${removed.error.message}`);
    return { name: 'storage', status: 'ok', detail: `${where}: wrote, read back, signed and deleted ${probe}` };
  } catch (err) {
    return { name: 'storage', status: 'fail', detail: `${where}: could not ${step} the probe object ${probe}: ${message(err)}` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One cheap authenticated call (GET /assistant?limit=1); skipped without VAPI_API_KEY. */
export async function checkVapi(config: Config): Promise<CheckResult> {
  if (!config.VAPI_API_KEY) return { name: 'vapi', status: 'skip', detail: 'VAPI_API_KEY is not set: recordings are fetched from the URLs in the webhooks' };
  const client = createVapiClient({ baseUrl: config.VAPI_API_URL, apiKey: config.VAPI_API_KEY, maxRetries: 0, timeoutMs: 10_000 });
  const r = await client.listAssistantsPage({ limit: 1 });
  if (r.ok) return { name: 'vapi', status: 'ok', detail: `VAPI_API_KEY accepted by ${client.baseUrl} (GET /assistant?limit=1)` };
  return { name: 'vapi', status: 'fail', detail: `GET ${client.baseUrl}/assistant?limit=1 failed: ${r.error.code}${r.error.status ? ` (HTTP ${r.error.status})` : ''}: ${r.error.message}` };
}
