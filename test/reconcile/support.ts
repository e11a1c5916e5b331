import { callStream, type EventData } from '../../src/events/catalog.ts';
import type { RecordedEvent } from '../../src/events/port.ts';
import type { ReconcileResult } from '../../src/processes/reconcile.ts';
import { startFakeVapiApi, type FakeVapiApi } from '../fakes/vapiApi.ts';
import type { TestBackend } from '../support/databases.ts';
import { startTestService, type TestService } from '../support/service.ts';

export const API_KEY = 'vapi-private-key-reconcile';

/** A callrec (background work off: the test drives the reconciler with tick()) talking to a fake Vapi API. */
export async function withReconcileService<T>(
  backend: TestBackend,
  fn: (s: TestService, vapi: FakeVapiApi) => Promise<T>,
  env: Record<string, string> = {},
): Promise<T> {
  const vapi = await startFakeVapiApi({ apiKey: API_KEY });
  const s = await startTestService(backend, { VAPI_API_KEY: API_KEY, VAPI_API_URL: vapi.url, ...env }, { background: false });
  try {
    return await fn(s, vapi);
  } finally {
    await s.close();
    await vapi.close();
  }
}

export async function tick(s: TestService): Promise<ReconcileResult> {
  const r = await s.reconciler!.tick();
  if (r === 'skipped') throw new Error('the reconciler did not get its lease');
  return r;
}

export async function callEnded(s: TestService, callId: string): Promise<RecordedEvent<EventData<'CallEnded'>>[]> {
  return (await s.store.readStream(callStream(callId))).filter((e) => e.type === 'CallEnded') as RecordedEvent<EventData<'CallEnded'>>[];
}

export async function completions(s: TestService): Promise<RecordedEvent<EventData<'ReconciliationCompleted'>>[]> {
  const out: RecordedEvent<EventData<'ReconciliationCompleted'>>[] = [];
  let after = 0;
  for (;;) {
    const page = await s.store.readAll({ after, limit: 1000 });
    if (page.length === 0) return out;
    for (const e of page) if (e.type === 'ReconciliationCompleted') out.push(e as RecordedEvent<EventData<'ReconciliationCompleted'>>);
    after = page[page.length - 1]!.position;
  }
}

export async function postReport(s: TestService, body: unknown): Promise<{ status: number; body: any }> {
  const res = await s.post('/webhooks/vapi', body);
  return { status: res.status, body: await res.json() };
}
