import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RecordedEvent } from '../../src/events/port.ts';
import { evolveCallLog } from '../../src/projections/callLogs/evolve.ts';
import { metricsDeltas } from '../../src/projections/metrics/evolve.ts';
import {
  decideRetention,
  effectivePolicy,
  type RetentionCandidate,
  type RetentionDecision,
  type RetentionOverride,
  type RetentionPolicy,
} from '../../src/processes/retentionDecide.ts';
import { spec, type Decider } from '../support/deciderSpec.ts';

/** The pure part of retention: which recordings and transcripts expire, and what the read models make of it. */
const test = suite('retention decisions (pure)');

const DAY = 86_400_000;
const NOW = new Date('2026-09-01T03:30:00.000Z');
const daysAgo = (d: number, extraMs = 0) => new Date(NOW.getTime() - d * DAY + extraMs).toISOString();

type Given = { type: 'policy'; orgId: string; override: RetentionOverride } | { type: 'call'; row: RetentionCandidate };
interface State {
  overrides: Map<string, RetentionOverride>;
  calls: RetentionCandidate[];
}
interface Command {
  now: Date;
  defaults: RetentionPolicy;
}

const retention: Decider<Command, Given, State, RetentionDecision> = {
  initialState: () => ({ overrides: new Map(), calls: [] }),
  evolve(state, e) {
    if (e.type === 'policy') return { ...state, overrides: new Map([...state.overrides, [e.orgId, e.override]]) };
    return { ...state, calls: [...state.calls, e.row] };
  },
  decide: (cmd, state) => decideRetention(cmd.now, cmd.defaults, state.overrides, state.calls),
};

const call = (id: string, endedDaysAgo: number | null, over: Partial<RetentionCandidate> = {}): Given => ({
  type: 'call',
  row: {
    id,
    org_id: 'org-a',
    ended_at: endedDaysAgo === null ? null : daysAgo(endedDaysAgo),
    recording_status: 'uploaded',
    recording_storage_path: `org-a/2026/01/01/${id}.wav`,
    recording_missing: false,
    has_transcript: true,
    transcript_expired_at: null,
    erased_at: null,
    held_at: null,
    ...over,
  },
});
const policy = (orgId: string, recordingDays: number | null, transcriptDays: number | null): Given => ({ type: 'policy', orgId, override: { recordingDays, transcriptDays } });
const at = (defaults: RetentionPolicy, now = NOW): Command => ({ now, defaults });
const ids = (d: RetentionDecision) => ({ recordings: d.recordings.map((r) => r.callId), transcripts: d.transcripts.map((t) => t.callId) });

// One row per case: given (calls, overrides), when (defaults, now), then (what expires).
const cases: Array<{ name: string; given: Given[]; when: Command; then: { recordings: string[]; transcripts: string[] } }> = [
  { name: 'nothing is set: everything is kept forever', given: [call('c1', 5000)], when: at({}), then: { recordings: [], transcripts: [] } },
  { name: 'past the default: recording expires', given: [call('old', 91), call('young', 89)], when: at({ recordingDays: 90 }), then: { recordings: ['old'], transcripts: [] } },
  { name: 'exactly on the day: expires (ended_at + days <= now)', given: [call('edge', 90)], when: at({ recordingDays: 90 }), then: { recordings: ['edge'], transcripts: [] } },
  {
    name: 'one millisecond short of the day: kept',
    given: [{ type: 'call', row: { ...(call('edge', 0) as { row: RetentionCandidate }).row, ended_at: daysAgo(90, 1) } }],
    when: at({ recordingDays: 90 }),
    then: { recordings: [], transcripts: [] },
  },
  { name: 'transcript by its own policy', given: [call('c1', 100)], when: at({ recordingDays: 365, transcriptDays: 30 }), then: { recordings: [], transcripts: ['c1'] } },
  { name: 'both expire', given: [call('c1', 400)], when: at({ recordingDays: 90, transcriptDays: 365 }), then: { recordings: ['c1'], transcripts: ['c1'] } },
  { name: 'a held call keeps both', given: [call('held', 400, { held_at: daysAgo(1) })], when: at({ recordingDays: 90, transcriptDays: 90 }), then: { recordings: [], transcripts: [] } },
  { name: 'an erased call is not expired again', given: [call('erased', 400, { erased_at: daysAgo(1) })], when: at({ recordingDays: 90, transcriptDays: 90 }), then: { recordings: [], transcripts: [] } },
  {
    name: 'already expired, missing or never uploaded recordings are left alone',
    given: [
      call('expired', 400, { recording_status: 'expired', recording_storage_path: null }),
      call('missing', 400, { recording_status: 'missing', recording_missing: true }),
      call('flagged', 400, { recording_missing: true }),
      call('none', 400, { recording_status: 'none', recording_storage_path: null }),
      call('abandoned', 400, { recording_status: 'abandoned', recording_storage_path: null }),
    ],
    when: at({ recordingDays: 90 }),
    then: { recordings: [], transcripts: [] },
  },
  {
    name: 'a transcript already expired or absent is left alone',
    given: [call('gone', 400, { transcript_expired_at: daysAgo(10) }), call('none', 400, { has_transcript: false })],
    when: at({ transcriptDays: 30 }),
    then: { recordings: [], transcripts: [] },
  },
  { name: 'a call without an end time never expires', given: [call('open', null)], when: at({ recordingDays: 1, transcriptDays: 1 }), then: { recordings: [], transcripts: [] } },
  {
    name: 'a shorter org override wins over the default (30 < 90)',
    given: [policy('org-a', 30, null), call('a40', 40), { type: 'call', row: { ...(call('b40', 40) as { row: RetentionCandidate }).row, org_id: 'org-b' } }],
    when: at({ recordingDays: 90 }),
    then: { recordings: ['a40'], transcripts: [] },
  },
  {
    name: 'a longer org override wins over the default (365 > 90)',
    given: [policy('org-a', 365, null), call('a100', 100), { type: 'call', row: { ...(call('b100', 100) as { row: RetentionCandidate }).row, org_id: 'org-b' } }],
    when: at({ recordingDays: 90 }),
    then: { recordings: ['b100'], transcripts: [] },
  },
  { name: 'an override applies without any default', given: [policy('org-a', null, 7), call('c1', 8)], when: at({}), then: { recordings: [], transcripts: ['c1'] } },
  { name: 'an override of null falls back to the default', given: [policy('org-a', null, null), call('c1', 91)], when: at({ recordingDays: 90 }), then: { recordings: ['c1'], transcripts: [] } },
];

for (const c of cases) {
  test(c.name, () => {
    spec(retention).given(c.given).when(c.when).then((d) => assert.equal(ids(d), c.then));
  });
}

test('the decision carries the path and the policy that applied', () => {
  spec(retention)
    .given([policy('org-a', 30, 60), call('c1', 61)])
    .when(at({ recordingDays: 90, transcriptDays: 365 }))
    .then({
      recordings: [{ callId: 'c1', orgId: 'org-a', storagePath: 'org-a/2026/01/01/c1.wav', policyDays: 30, endedAt: daysAgo(61) }],
      transcripts: [{ callId: 'c1', orgId: 'org-a', policyDays: 60, endedAt: daysAgo(61) }],
    });
});

test('effective policy: override per kind, else default, else forever', () => {
  const overrides = new Map([['org-a', { recordingDays: 30, transcriptDays: null }]]);
  assert.equal(effectivePolicy('org-a', { recordingDays: 90, transcriptDays: 365 }, overrides), { recordingDays: 30, transcriptDays: 365 });
  assert.equal(effectivePolicy('org-b', { recordingDays: 90 }, overrides), { recordingDays: 90 });
  assert.equal(effectivePolicy('org-a', {}, overrides), { recordingDays: 30 });
});

// --- what the read models make of the events ---------------------------------------------------------

let position = 0;
const ev = (type: string, data: Record<string, unknown>, actor = 'system:retention', recordedAt = NOW.toISOString()): RecordedEvent => ({
  eventId: `e${++position}`,
  type,
  data: { callId: 'c1', ...data },
  metadata: { correlationId: 'x', causationId: null, orgId: 'org-a', recordedAt, actor },
  streamId: 'call-c1',
  revision: position,
  position,
  storedAt: NOW,
});
const ended = ev('CallEnded', {
  orgId: 'org-a', vapiOrgId: null, callType: null, assistantId: null, phoneNumberId: null, customerNumber: null, startedAt: null,
  endedAt: daysAgo(100), durationSeconds: 60, endedReason: null, transcript: 'hello', summary: 'greeting', cost: null,
  recordingUrl: 'https://storage.vapi.ai/a.wav', stereoRecordingUrl: null, messageAt: null,
}, 'vapi');
const uploaded = ev('RecordingUploaded', {
  attempt: 1, storagePath: 'org-a/p/c1.wav', bytes: 10, sha256: 'a'.repeat(64), format: 'wav', codec: null, contentType: 'audio/wav',
  durationSeconds: 60, channels: 1, sampleRate: 8000, source: 'payload-url', originalBytes: null, compressionRatio: null,
}, 'system:pipeline');
const signed = ev('UrlSigned', { storagePath: 'org-a/p/c1.wav', url: 'http://x/r?sig=1', expiresAt: NOW.toISOString(), by: 'system' });
const expired = ev('RecordingExpired', { orgId: 'org-a', storagePath: 'org-a/p/c1.wav', policyDays: 90 });
const missing = ev('RecordingMissing', { storagePath: 'org-a/p/c1.wav', sweepId: 'x' }, 'system:orphan-sweep');
const shredded = ev('TranscriptExpired', { orgId: 'org-a', policyDays: 90 });
const fold = (events: RecordedEvent[]) => events.reduce((row, e) => evolveCallLog(row, e), undefined as ReturnType<typeof evolveCallLog>)!;

test('call_logs: RecordingExpired shows "expired", never "missing", and leaves nothing to sign', () => {
  const row = fold([ended, uploaded, signed, expired]);
  assert.is(row.recording_status, 'expired');
  assert.is(row.recording_expired_at, NOW.toISOString());
  assert.is(row.recording_missing, false);
  assert.is(row.recording_storage_path, null);
  assert.is(row.recording_signed_url, null);
  assert.is(row.recording_bytes, 10, 'the non-personal facts of the recording stay');
  assert.is(row.transcript, 'hello');
});

test('call_logs: a missing flag that raced the expiry gives way to it, in either order', () => {
  for (const order of [[missing, expired], [expired, missing]]) {
    const row = fold([ended, uploaded, ...order]);
    assert.is(row.recording_status, 'expired');
    assert.is(row.recording_missing, false);
  }
});

test('call_logs: TranscriptExpired clears transcript and summary', () => {
  const row = fold([ended, uploaded, shredded]);
  assert.is(row.transcript, null);
  assert.is(row.summary, null);
  assert.is(row.transcript_expired_at, NOW.toISOString());
  assert.is(row.recording_status, 'uploaded');
});

test('metrics: expiries are counted apart from missing recordings', () => {
  const { daily } = metricsDeltas([expired, shredded, missing]);
  const row = daily.get(`org-a|${NOW.toISOString().slice(0, 10)}`)!;
  assert.is(row.recordings_expired, 1);
  assert.is(row.transcripts_expired, 1);
  assert.is(row.missing_flagged, 1);
});

test.run();
