import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { callStream } from '../../src/events/catalog.ts';
import type { RecordedEvent } from '../../src/events/port.ts';
import { silentLogger } from '../../src/log.ts';
import { startService, type Service, type ServiceOptions } from '../../src/service.ts';
import { loadVapiFixture, withRecordingUrl } from '../fixtures/vapi/index.ts';
import { TEST_PII_MASTER_KEY } from '../support/privacy.ts';
import type { TestBackend, TestDb } from '../support/databases.ts';

export const PIPELINE_ENV = {
  // One key for every start on the same database, whatever DATA_DIR a restart uses.
  PII_MASTER_KEY: TEST_PII_MASTER_KEY,
  RECORDING_ALLOWED_HOSTS: '127.0.0.1',
  RECORDING_ALLOWED_ADDRESSES: '127.0.0.1',
  RECORDING_DOWNLOAD_TIMEOUT_MS: '10000',
};

export const freshDataDir = () => mkdtempSync(join(tmpdir(), 'callrec-pipeline-'));

/** A fake clock tests move by hand. */
export function fakeClock(start = '2026-05-12T14:10:00.000Z') {
  let now = new Date(start);
  return {
    now: () => now,
    advanceMinutes(m: number) {
      now = new Date(now.getTime() + m * 60_000);
    },
    set(d: Date) {
      now = d;
    },
  };
}

/** A running callrec on an existing database (so it can be stopped and started again on the same one). */
export async function startOn(db: TestDb, env: Record<string, string>, opts: ServiceOptions = {}): Promise<Service & { post(path: string, body: unknown): Promise<Response> }> {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...PIPELINE_ENV, ...env });
  const service = await startService(config, { logger: silentLogger, database: db.database, leaseMs: 2000, ...opts });
  return Object.assign(service, {
    post(path: string, body: unknown) {
      return fetch(service.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    },
  });
}

export async function withDb<T>(backend: TestBackend, fn: (db: TestDb) => Promise<T>): Promise<T> {
  const db = await backend.open();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** An end-of-call-report for a new call id whose recording URLs point at `url` (or a fixture without any). */
export function report(url: string | null, fixture = 'end-of-call-report.current'): { body: any; callId: string } {
  const body = loadVapiFixture(fixture);
  const callId = randomUUID();
  body.message.call.id = callId;
  return { body: url === null ? body : withRecordingUrl(body, url), callId };
}

/** Projection caught up, pipeline run until nothing is due, projection caught up again. */
export async function settle(s: Service): Promise<void> {
  for (let i = 0; i < 50; i++) {
    await s.runner.catchUp();
    const n = await s.pipeline.runDue();
    await s.runner.catchUp();
    if (n === 0 && s.pipeline.inFlight() === 0) return;
  }
  throw new Error('pipeline did not settle');
}

export async function callLog(s: Service, id: string) {
  await s.runner.catchUp();
  return s.database.db.selectFrom('call_logs').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function history(s: Service, callId: string): Promise<RecordedEvent[]> {
  return s.store.readStream(callStream(callId));
}

export const types = (events: RecordedEvent[]) => events.map((e) => e.type);

export const sha256 = (b: Buffer | Uint8Array) => createHash('sha256').update(b).digest('hex');
