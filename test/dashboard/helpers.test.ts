import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { signToken } from '../../src/auth/tokens.ts';
import {
  canAdminister,
  privacyBadges,
  formatBytes,
  formatDuration,
  formatMetricValue,
  humanize,
  recordingBadge,
  sessionFromToken,
  statusFromLiveEvent,
  transcriptTurns,
} from '../../src/http/dashboard/format.js';
import { MIN_REFRESH_DELAY_MS, refreshDelayMs, refreshMarginSeconds, swapMoment } from '../../src/http/dashboard/refresh.js';

/** The dashboard's pure helpers (the same modules the page loads), run in Node. */

const test = suite('dashboard helpers');

test('renewal margin: 5 minutes, capped at half the URL lifetime', () => {
  assert.is(refreshMarginSeconds(3600), 300);
  assert.is(refreshMarginSeconds(600), 300);
  assert.is(refreshMarginSeconds(400), 200);
  assert.is(refreshMarginSeconds(10), 5);
});

test('renewal delay: 5 minutes before expiry for the default hour; half-way for short URLs', () => {
  assert.is(refreshDelayMs(3600, 3600), 3300_000);
  // a stored URL handed out with 20 minutes left: renewed 5 minutes before it expires
  assert.is(refreshDelayMs(1200, 3600), 900_000);
  // the tests' 10-second URLs: renewed after 5 s
  assert.is(refreshDelayMs(10, 10), 5000);
  // already inside the margin: half of what is left, never a tight loop
  assert.is(refreshDelayMs(100, 3600), 50_000);
  assert.is(refreshDelayMs(0, 3600), MIN_REFRESH_DELAY_MS);
  assert.is(refreshDelayMs(-5), MIN_REFRESH_DELAY_MS);
  // lifetime unknown: taken from the URL itself
  assert.is(refreshDelayMs(3600), 3300_000);
});

test('a fresh URL is swapped in at once only when nothing plays', () => {
  assert.is(swapMoment({ hasSource: false, paused: false, ended: false }), 'now');
  assert.is(swapMoment({ hasSource: true, paused: true, ended: false }), 'now');
  assert.is(swapMoment({ hasSource: true, paused: false, ended: true }), 'now');
  assert.is(swapMoment({ hasSource: true, paused: false, ended: false }), 'later');
});

test('badges say what they mean in words', () => {
  assert.equal(recordingBadge('uploaded'), { label: 'ready', tone: 'ok' });
  assert.equal(recordingBadge('pending'), { label: 'processing', tone: 'pending' });
  assert.is(recordingBadge('retry_scheduled').label, 'retrying');
  assert.is(recordingBadge('abandoned', true).label, 'failed');
  assert.is(recordingBadge('none', true).label, 'transcript only');
  assert.is(recordingBadge('something-new').label, 'something-new');
  assert.equal(statusFromLiveEvent('recording_ready', {}), { status: 'uploaded', transcriptOnly: false });
  assert.equal(statusFromLiveEvent('transcript_only', {}), { status: 'none', transcriptOnly: true });
  assert.is(statusFromLiveEvent('recording_failed', { retryable: true })!.status, 'retry_scheduled');
  assert.is(statusFromLiveEvent('call_ended', {}), undefined);
});

test('formatting', () => {
  assert.is(formatDuration(95.687), '1:36');
  assert.is(formatDuration(3725), '1:02:05');
  assert.is(formatDuration(null), '—');
  assert.is(formatBytes(480_044), '469 KB');
  assert.is(formatBytes(52_428_800), '50.0 MB');
  assert.is(formatBytes(512), '512 B');
  assert.is(formatMetricValue(0.999, 'ratio'), '99.9 %');
  assert.is(formatMetricValue(1, 'ratio'), '100 %');
  assert.is(formatMetricValue(0.005, 'ratio'), '0.50 %');
  assert.is(formatMetricValue(null, 'count'), '—');
  assert.is(humanize('customer-ended-call'), 'customer ended call');
  assert.is(humanize('inboundPhoneCall'), 'inbound phone call');
});

test('transcript turns: speakers split, continuation lines kept, markup untouched', () => {
  assert.equal(transcriptTurns('AI: Hello\nUser: <img src=x onerror=alert(1)>\nstill me\n\nAI: Bye'), [
    { speaker: 'AI', text: 'Hello' },
    { speaker: 'User', text: '<img src=x onerror=alert(1)>\nstill me' },
    { speaker: 'AI', text: 'Bye' },
  ]);
  assert.equal(transcriptTurns('no speaker here'), [{ speaker: '', text: 'no speaker here' }]);
  assert.equal(transcriptTurns(null), []);
});

test('the session shown comes from the token claims, read like the server reads them', async () => {
  const secret = 'x'.repeat(32);
  const now = new Date();
  const plain = await signToken({ secret, orgId: 'acme', userId: 'bob', role: 'auditor', now, ttlSeconds: 60 });
  assert.equal(sessionFromToken(plain), { userId: 'bob', orgId: 'acme', role: 'auditor', expiresAtMs: (Math.floor(now.getTime() / 1000) + 60) * 1000 });
  const nested = await signToken({ secret, orgId: 'acme', userId: 'bob', role: 'admin', orgClaim: 'app_metadata.org_id', roleClaim: 'app_metadata.role' });
  assert.is(sessionFromToken(nested)!.orgId, 'acme');
  assert.is(sessionFromToken(nested)!.role, 'admin');
  assert.is(sessionFromToken('not-a-token'), undefined);
});

test('privacy badges and states: erased, expired, held; recording badges; who may erase', async () => {
  const none = { erased: null, held: null, recordingExpiredAt: null, transcriptExpiredAt: null };
  assert.equal(privacyBadges(none), []);
  const fact = { at: '2026-05-12T14:00:00.000Z', by: 'user:boss', reason: 'r' };
  assert.equal(privacyBadges({ ...none, erased: fact, held: fact }).map((b) => b.label), ['erased', 'held']);
  assert.equal(privacyBadges({ ...none, transcriptExpiredAt: fact.at }).map((b) => b.kind), ['expired']);
  assert.equal(privacyBadges({ ...none, recordingExpiredAt: fact.at, transcriptExpiredAt: fact.at }).map((b) => b.kind), ['expired']);
  assert.equal(recordingBadge('erased', true), { label: 'erased', tone: 'bad' }, 'an erased recording is not "transcript only"');
  assert.is(recordingBadge('expired').label, 'expired');
  assert.equal(statusFromLiveEvent('recording_expired', {}), { status: 'expired', transcriptOnly: false });
  assert.is(statusFromLiveEvent('call_held', {}), undefined);
  assert.equal(['member', 'auditor', 'admin', 'platform-admin'].filter(canAdminister), ['admin', 'platform-admin']);
  const operator = await signToken({ secret: 'helpers-test-secret-0123456789abcdef', orgId: 'acme', userId: 'op', role: 'platform-admin' });
  assert.is(sessionFromToken(operator)?.role, 'platform-admin');
});

test.run();
