import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { evolveCallPrivacy, initialCallPrivacy, type CallPrivacyState } from '../../src/commands/callPrivacy.ts';
import { decideErase, decideErasureOutcome, decideVapiOutcome, nextErasureWork, type EraseCommand, type EraseDecision } from '../../src/commands/erasure.ts';
import { decideHold, decideRelease, type HoldCommand, type HoldDecision } from '../../src/commands/hold.ts';
import { validateEventData } from '../../src/events/catalog.ts';
import type { NewEvent, RecordedEvent } from '../../src/events/port.ts';
import { spec, type Decider } from '../support/deciderSpec.ts';

/** Erasure and hold decisions, pure: the state folded from given events, the command decided, no database. */
const test = suite('erasure and hold decisions (pure)');

const callId = 'call-erase-1';
const t0 = new Date('2026-06-01T10:00:00.000Z');
const retry = { delaysMinutes: [5, 10, 20, 40], maxRetries: 3 };
let pos = 0;

function ev(type: string, data: Record<string, unknown>, over: { actor?: string; orgId?: string; eventId?: string } = {}): RecordedEvent {
  pos++;
  return {
    eventId: over.eventId ?? `e-${type}-${pos}`,
    type,
    data: { callId, ...data },
    metadata: { correlationId: 'corr-1', causationId: null, orgId: over.orgId ?? 'org-a', recordedAt: new Date(t0.getTime() + pos * 1000).toISOString(), actor: over.actor ?? 'vapi' },
    streamId: `call-${callId}`,
    revision: pos - 1,
    position: pos,
    storedAt: t0,
  };
}

const ended = () =>
  ev('CallEnded', {
    orgId: 'org-a', vapiOrgId: null, callType: null, assistantId: null, phoneNumberId: null, customerNumber: '+15550100',
    startedAt: null, endedAt: '2026-05-12T14:04:06.905Z', durationSeconds: 60, endedReason: 'customer-ended-call',
    transcript: 'I need my prescription', summary: 'prescription', cost: 0.1, recordingUrl: 'https://storage.vapi.ai/a.wav', stereoRecordingUrl: null, messageAt: null,
  });
const uploaded = (path = 'org-a/2026/05/12/call-erase-1.wav') => ev('RecordingUploaded', { attempt: 1, storagePath: path }, { actor: 'system:pipeline' });
const erased = (reason = 'caller asked', actor = 'user:admin-1') => ev('CallErased', { orgId: 'org-a', reason }, { actor, eventId: 'e-erased' });
const held = (reason = 'dispute 42') => ev('CallHeld', { orgId: 'org-a', reason }, { actor: 'user:admin-2' });
const released = () => ev('CallReleased', { orgId: 'org-a', reason: 'dispute settled' }, { actor: 'user:admin-2' });

const erase = (over: Partial<EraseCommand> = {}): EraseCommand => ({ callId, orgId: 'org-a', actor: 'user:admin-1', correlationId: 'corr-x', now: t0, reason: 'caller asked', ...over });
const hold = (over: Partial<HoldCommand> = {}): HoldCommand => ({ callId, orgId: 'org-a', actor: 'user:admin-2', correlationId: 'corr-y', now: t0, reason: 'dispute 42', ...over });

const eraser: Decider<EraseCommand, RecordedEvent, CallPrivacyState, EraseDecision> = { initialState: () => initialCallPrivacy(callId), evolve: evolveCallPrivacy, decide: decideErase };
const holder: Decider<HoldCommand, RecordedEvent, CallPrivacyState, HoldDecision> = { initialState: () => initialCallPrivacy(callId), evolve: evolveCallPrivacy, decide: decideHold };
const releaser: Decider<HoldCommand, RecordedEvent, CallPrivacyState, HoldDecision> = { initialState: () => initialCallPrivacy(callId), evolve: evolveCallPrivacy, decide: decideRelease };

const refused = (code: string) => (d: EraseDecision | HoldDecision) => {
  assert.is(d.ok, false, 'refused');
  if (!d.ok) assert.is(d.error.code, code);
};
const decided = (types: string[]) => (d: EraseDecision | HoldDecision) => {
  assert.ok(d.ok, 'decided');
  if (d.ok) {
    assert.equal(d.events.map((e) => e.type), types);
    for (const e of d.events) assert.ok(validateEventData(e.type, e.data).ok, `${e.type} matches its schema`);
  }
};

// -- erase ------------------------------------------------------------------------------------------

const eraseTable: Array<[string, () => RecordedEvent[], EraseCommand, (d: EraseDecision) => void]> = [
  ['an ended call is erased with the reason and the admin as actor', () => [ended()], erase(), (d) => {
    decided(['CallErased'])(d);
    if (!d.ok) return;
    const e = d.events[0]!;
    assert.equal(e.data, { callId, orgId: 'org-a', reason: 'caller asked' });
    assert.is(e.metadata.actor, 'user:admin-1');
    assert.is(e.metadata.orgId, 'org-a');
    assert.is(d.already, false);
  }],
  ['the reason is trimmed', () => [ended()], erase({ reason: '  caller asked  ' }), (d) => assert.is(d.ok && (d.events[0]!.data as { reason: string }).reason, 'caller asked')],
  ['an unknown call is not found', () => [], erase(), refused('not_found')],
  ["another org's call looks like no call", () => [ended()], erase({ orgId: 'org-b' }), refused('not_found')],
  ['the CLI (no org) reaches any org', () => [ended()], erase({ orgId: null, actor: 'cli:ops' }), decided(['CallErased'])],
  ['a call seen only in progress can be erased', () => [ev('CallStatusChanged', { orgId: 'org-a', status: 'in-progress', at: null, endedReason: null })], erase(), decided(['CallErased'])],
  ['an empty reason is refused', () => [ended()], erase({ reason: '   ' }), refused('invalid_reason')],
  ['a reason longer than 1000 characters is refused', () => [ended()], erase({ reason: 'x'.repeat(1001) }), refused('invalid_reason')],
  ['an erased call: idempotent, nothing new', () => [ended(), erased()], erase({ reason: 'again', actor: 'user:admin-9' }), (d) => {
    assert.ok(d.ok);
    if (d.ok) {
      assert.equal(d.events, []);
      assert.is(d.already, true);
    }
  }],
  ['a held call is refused, the error names the hold', () => [ended(), held('dispute 42')], erase(), (d) => {
    refused('call_held')(d);
    if (!d.ok) {
      assert.match(d.error.message, /dispute 42/);
      assert.match(d.error.message, /user:admin-2/);
      assert.equal((d.error.details as any).hold.reason, 'dispute 42');
    }
  }],
  ['a released call can be erased', () => [ended(), held(), released()], erase(), decided(['CallErased'])],
];

for (const [name, given, command, then] of eraseTable) {
  test(`erase: ${name}`, () => {
    pos = 0;
    spec(eraser).given(given()).when(command).then(then);
  });
}

test('erase: the same erasure decided twice has the same event id (two requests meet in one event)', () => {
  pos = 0;
  const given = [ended()];
  const a = decideErase(erase(), given.reduce(evolveCallPrivacy, initialCallPrivacy(callId)));
  const b = decideErase(erase({ actor: 'user:other' }), given.reduce(evolveCallPrivacy, initialCallPrivacy(callId)));
  assert.ok(a.ok && b.ok);
  if (a.ok && b.ok) assert.is(a.events[0]!.eventId, b.events[0]!.eventId);
});

// -- hold / release ---------------------------------------------------------------------------------

const holdTable: Array<[string, Decider<HoldCommand, RecordedEvent, CallPrivacyState, HoldDecision>, () => RecordedEvent[], HoldCommand, (d: HoldDecision) => void]> = [
  ['hold: a call is held with a reason', holder, () => [ended()], hold(), (d) => {
    decided(['CallHeld'])(d);
    if (d.ok) assert.equal(d.events[0]!.data, { callId, orgId: 'org-a', reason: 'dispute 42' });
  }],
  ['hold: an empty reason is refused', holder, () => [ended()], hold({ reason: '' }), refused('invalid_reason')],
  ['hold: an unknown call is not found', holder, () => [], hold(), refused('not_found')],
  ["hold: another org's call is not found", holder, () => [ended()], hold({ orgId: 'org-b' }), refused('not_found')],
  ['hold: an erased call cannot be held', holder, () => [ended(), erased()], hold(), refused('call_erased')],
  ['hold: a held call stays held, nothing new', holder, () => [ended(), held()], hold({ reason: 'another' }), (d) => {
    assert.ok(d.ok);
    if (d.ok) {
      assert.equal(d.events, []);
      assert.is(d.already, true);
    }
  }],
  ['release: a held call is released with a reason', releaser, () => [ended(), held()], hold({ reason: 'settled' }), decided(['CallReleased'])],
  ['release: a call that is not held is refused', releaser, () => [ended()], hold(), refused('call_not_held')],
  ['release: released twice is refused the second time', releaser, () => [ended(), held(), released()], hold(), refused('call_not_held')],
  ['release: an empty reason is refused', releaser, () => [ended(), held()], hold({ reason: ' ' }), refused('invalid_reason')],
  ["release: another org's call is not found", releaser, () => [ended(), held()], hold({ orgId: 'org-b' }), refused('not_found')],
];

for (const [name, decider, given, command, then] of holdTable) {
  test(name, () => {
    pos = 0;
    spec(decider).given(given()).when(command).then(then);
  });
}

// -- the erasure process's decisions ----------------------------------------------------------------

const stateOf = (events: RecordedEvent[]) => events.reduce(evolveCallPrivacy, initialCallPrivacy(callId));
const append = (state: CallPrivacyState, events: NewEvent[]) =>
  events.reduce((s, e) => evolveCallPrivacy(s, { ...e, streamId: `call-${callId}`, revision: s.revision + 1, position: 1000 + s.revision, storedAt: t0 }), state);

test('work: nothing before an erasure; local steps (and Vapi when configured) right after it', () => {
  pos = 0;
  assert.equal(nextErasureWork(stateOf([ended(), uploaded()]), t0, { vapi: true }), { local: null, vapi: null });
  const s = stateOf([ended(), uploaded(), erased()]);
  assert.equal(s.storagePaths, ['org-a/2026/05/12/call-erase-1.wav']);
  assert.equal(nextErasureWork(s, t0, { vapi: false }), { local: { attempt: 1 }, vapi: null });
  assert.equal(nextErasureWork(s, t0, { vapi: true }), { local: { attempt: 1 }, vapi: { attempt: 1 } });
});

test('work: a failed step is retried at its time, with the counts of what it did added to the completion', () => {
  pos = 0;
  let s = stateOf([ended(), uploaded(), erased()]);
  const failed = decideErasureOutcome(s, 1, { ok: false, step: 'storage', code: 'storage_unavailable', message: 'down', counts: { keysDestroyed: 2, eventsRewritten: 3, objectsDeleted: 0 } }, { now: t0, retry });
  assert.equal(failed.map((e) => e.type), ['ErasureStepFailed']);
  assert.ok(validateEventData('ErasureStepFailed', failed[0]!.data).ok);
  assert.is((failed[0]!.data as any).retryAt, '2026-06-01T10:05:00.000Z');
  assert.is(failed[0]!.metadata.causationId, 'e-erased');
  assert.is(failed[0]!.metadata.actor, 'system:erasure');
  s = append(s, failed);
  assert.equal(nextErasureWork(s, t0, { vapi: false }).local, null, 'not due before retryAt');
  assert.equal(nextErasureWork(s, new Date('2026-06-01T10:05:00.000Z'), { vapi: false }).local, { attempt: 2 });
  // attempts keep going (never given up): the delay stays at the last step
  const again = decideErasureOutcome(s, 9, { ok: false, step: 'storage', code: 'storage_unavailable', message: 'down', counts: { keysDestroyed: 0, eventsRewritten: 0, objectsDeleted: 0 } }, { now: t0, retry });
  assert.is((again[0]!.data as any).retryAt, '2026-06-01T10:40:00.000Z');
  const done = decideErasureOutcome(s, 2, { ok: true, counts: { keysDestroyed: 0, eventsRewritten: 0, objectsDeleted: 1 } }, { now: t0, retry });
  assert.equal(done[0]!.data, { callId, orgId: 'org-a', objectsDeleted: 1, keysDestroyed: 2, eventsRewritten: 3 });
  s = append(s, done);
  assert.equal(nextErasureWork(s, new Date('2027-01-01T00:00:00Z'), { vapi: false }), { local: null, vapi: null });
  // the same completion decided twice has the same id
  assert.is(decideErasureOutcome(s, 3, { ok: true, counts: { keysDestroyed: 0, eventsRewritten: 0, objectsDeleted: 0 } }, { now: t0, retry })[0]!.eventId, done[0]!.eventId);
});

test("work: Vapi's copy: retried with backoff while retryable, given up after the retries or when not retryable", () => {
  pos = 0;
  let s = stateOf([ended(), erased()]);
  const fail = (attempt: number, retryable = true) =>
    decideVapiOutcome(s, attempt, { ok: false, code: 'server_error', status: 503, message: 'Vapi answered 503', retryable }, { now: t0, retry });
  const f1 = fail(1);
  assert.ok(validateEventData('VapiCallDataDeleteFailed', f1[0]!.data).ok);
  assert.is((f1[0]!.data as any).retryAt, '2026-06-01T10:05:00.000Z');
  s = append(s, f1);
  assert.equal(nextErasureWork(s, t0, { vapi: true }).vapi, null);
  assert.equal(nextErasureWork(s, new Date('2026-06-01T10:05:00.000Z'), { vapi: true }).vapi, { attempt: 2 });
  assert.is((fail(4)[0]!.data as any).retryAt, null, 'after 3 retries: given up');
  assert.is((fail(2, false)[0]!.data as any).retryAt, null, 'not retryable: given up');
  s = append(s, fail(4));
  assert.is(s.vapi.status, 'given_up');
  assert.equal(nextErasureWork(s, new Date('2027-01-01T00:00:00Z'), { vapi: true }).vapi, null);
  const ok = decideVapiOutcome(stateOf([ended(), erased()]), 1, { ok: true, alreadyGone: false }, { now: t0, retry });
  assert.equal(ok[0]!.data, { callId, orgId: 'org-a', attempt: 1, alreadyGone: false });
  assert.is(append(stateOf([ended(), erased()]), ok).vapi.status, 'deleted');
});

test.run();
