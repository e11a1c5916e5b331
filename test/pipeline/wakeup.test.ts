import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pgliteBackend } from '../support/databases.ts';
import { startTestService } from '../support/service.ts';
import { eventually } from '../support/eventually.ts';

// The pipeline is woken when call_logs moves in its process, not by its poll. With a poll of one minute,
// a call that waited for the poll would take a minute; a woken pipeline handles it at once. (Regression:
// a wake-up arriving while the loop was between ticks was lost, and the call waited for the poll.)
const test = suite('recording pipeline wakes up for new calls');

test('transcript-only fallbacks for ten calls in a row, none waiting for the poll', async () => {
  const s = await startTestService(pgliteBackend, { UPLOAD_RETRY_POLL_SECONDS: '60' }, { recordingPipeline: true, leaseMs: 600_000 });
  try {
    for (let i = 0; i < 10; i++) {
      const id = `wake-${i}`;
      const res = await s.post('/webhooks/vapi', { message: { type: 'end-of-call-report', call: { id }, endedAt: '2026-11-25T10:01:30Z' } });
      assert.is(res.status, 200);
      let types: string[] = [];
      await eventually(`${id}'s TranscriptOnlyFallback`, async () => {
        types = (await s.store.readStream(`call-${id}`)).map((e) => e.type);
        return types.includes('TranscriptOnlyFallback');
      }, { timeoutMs: 10_000, intervalMs: 10 });
      assert.equal(types, ['CallEnded', 'TranscriptOnlyFallback'], `${id} was handled without waiting for the poll`);
    }
  } finally {
    await s.close();
  }
});

test.run();
