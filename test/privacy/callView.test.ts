import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ROLES } from '../../src/auth/roles.ts';
import type { RecordedEvent } from '../../src/events/port.ts';
import { customerNumberFor, toApiCall } from '../../src/http/routes/callsQuery.ts';
import { ApiCall } from '../../src/http/routes/callsSchemas.ts';
import { createUploadTracker, SSE_EVENTS, SSE_SOURCE_TYPES, toSseMessage } from '../../src/http/sse/messages.ts';
import { maskPhoneNumber } from '../../src/privacy/maskNumber.ts';
import { emptyCallLog, type CallLogRow } from '../../src/projections/callLogs/columns.ts';

/** Pure: how a caller's number is masked, the API view of a call per role and privacy state, the SSE mapping. */

const test = suite('call view: masking, erasure/hold/expiry fields, SSE messages');

test('maskPhoneNumber keeps the country code and the last 4 digits of an E.164 number, nothing else', () => {
  assert.is(maskPhoneNumber('+15551234567'), '+1 ••• ••• 4567');
  assert.is(maskPhoneNumber('+1 (555) 123-4567'), '+1 ••• ••• 4567');
  assert.is(maskPhoneNumber('+447911123456'), '+44 ••• ••• 3456');
  assert.is(maskPhoneNumber('+4930123456789'), '+49 ••• ••• 6789', 'the dots do not tell the length');
  assert.is(maskPhoneNumber('+353871234567'), '+353 ••• ••• 4567', 'three-digit country code');
  assert.is(maskPhoneNumber('+79161234567'), '+7 ••• ••• 4567');
  assert.is(maskPhoneNumber('5551234567'), '••• ••• 4567', 'no +: no country code shown');
  assert.is(maskPhoneNumber(null), null);
});

test('maskPhoneNumber shows dots only when the last 4 digits would give the number away', () => {
  assert.is(maskPhoneNumber('anonymous'), '••• •••');
  assert.is(maskPhoneNumber(''), '••• •••');
  assert.is(maskPhoneNumber('911'), '••• •••');
  assert.is(maskPhoneNumber('123456'), '••• •••');
  assert.is(maskPhoneNumber('+3761234'), '+376 ••• •••', 'a short national part');
  assert.is(maskPhoneNumber('sip:reception@example.com'), '••• •••');
  for (const n of ['+15551234567', '+447911123456', '5551234567', '+3761234']) {
    const masked = maskPhoneNumber(n)!;
    const shown = masked.replace(/\D/g, '');
    assert.ok(shown.length <= n.replace(/\D/g, '').length - 3, `${n} → ${masked} keeps at least 3 digits hidden`);
  }
});

test('customerNumberFor: full for admin, auditor and platform-admin; masked for member', () => {
  const full = ROLES.filter((r) => customerNumberFor(r, '+15551234567') === '+15551234567');
  assert.equal(full.sort(), ['admin', 'auditor', 'platform-admin']);
  assert.is(customerNumberFor('member', '+15551234567'), '+1 ••• ••• 4567');
  assert.is(customerNumberFor('member', '[erased]'), '[erased]', 'a number read back as erased is not dressed as a masked one');
});

function row(over: Partial<CallLogRow> = {}): CallLogRow {
  return {
    ...emptyCallLog('c1', 'o1', 1),
    assistant_id: 'asst-1',
    customer_number: '+15551234567',
    transcript: 'AI: Hello.\nUser: My name is Jane.',
    summary: 'Jane booked a cleaning.',
    ...over,
  };
}

test('toApiCall: a plain call per role, valid against the response schema', () => {
  for (const role of ROLES) {
    const call = toApiCall(row(), role);
    ApiCall.parse(call);
    assert.is(call.assistantId, 'asst-1');
    assert.is(call.customerNumber, role === 'member' ? '+1 ••• ••• 4567' : '+15551234567', role);
    assert.is(call.customer_number, call.customerNumber, 'the snake_case column is masked the same way');
    assert.is(call.transcript, 'AI: Hello.\nUser: My name is Jane.');
    assert.is(call.erased, null);
    assert.is(call.held, null);
    assert.is(call.recordingExpiredAt, null);
    assert.is(call.transcriptExpiredAt, null);
    for (const hidden of ['erased_at', 'erased_by', 'erase_reason', 'held_at', 'recording_signed_url', 'recording_source_url']) assert.not.ok(hidden in call, hidden);
  }
  assert.is(toApiCall(row({ customer_number: null }), 'member').customerNumber, null);
});

test('toApiCall: an erased call reads [erased] for transcript, summary and number, for every role; erased {at, by, reason}', () => {
  const erased = row({ erased_at: '2026-05-12T14:00:00.000Z', erased_by: 'user:erin', erase_reason: 'caller asked (ticket 42)', transcript: null, summary: null, customer_number: null, recording_status: 'erased' });
  for (const role of ROLES) {
    const call = toApiCall(erased, role);
    ApiCall.parse(call);
    assert.is(call.transcript, '[erased]');
    assert.is(call.summary, '[erased]');
    assert.is(call.customerNumber, '[erased]');
    assert.is(call.customer_number, '[erased]');
    assert.equal(call.erased, { at: '2026-05-12T14:00:00.000Z', by: 'user:erin', reason: 'caller asked (ticket 42)' });
  }
});

test('toApiCall: held {at, by, reason}; an expired transcript reads [expired]; recording expiry time', () => {
  const held = toApiCall(row({ held_at: '2026-05-12T15:00:00.000Z', held_by: 'user:al', hold_reason: 'dispute 7' }), 'auditor');
  assert.equal(held.held, { at: '2026-05-12T15:00:00.000Z', by: 'user:al', reason: 'dispute 7' });
  const expired = toApiCall(row({ transcript: null, summary: null, transcript_expired_at: '2026-06-01T03:30:00.000Z', recording_expired_at: '2026-05-20T03:30:00.000Z', recording_status: 'expired' }), 'member');
  assert.is(expired.transcript, '[expired]');
  assert.is(expired.summary, '[expired]');
  assert.is(expired.customerNumber, '+1 ••• ••• 4567', 'the number is not part of the transcript policy');
  assert.is(expired.transcriptExpiredAt, '2026-06-01T03:30:00.000Z');
  assert.is(expired.recordingExpiredAt, '2026-05-20T03:30:00.000Z');
  assert.is(expired.recording_status, 'expired');
});

let pos = 0;
function recorded(type: string, data: Record<string, unknown>, actor = 'user:erin'): RecordedEvent {
  pos++;
  const at = new Date(Date.UTC(2026, 4, 12, 14, 0, pos)).toISOString();
  return {
    eventId: `e${pos}`, type, data: { callId: 'c1', orgId: 'o1', ...data }, streamId: 'call-c1', revision: pos - 1, position: 100 + pos, storedAt: new Date(at),
    metadata: { correlationId: 'c', causationId: null, orgId: 'o1', recordedAt: at, actor },
  };
}

test('SSE: erasure, hold, release and expiries become messages with the call and the time only', async () => {
  const tracker = createUploadTracker({ readStream: async () => [] });
  const cases: Array<[RecordedEvent, string]> = [
    [recorded('CallErased', { reason: 'caller asked, Jane Doe' }), 'call_erased'],
    [recorded('CallHeld', { reason: 'dispute' }), 'call_held'],
    [recorded('CallReleased', { reason: 'settled' }), 'call_released'],
    [recorded('RecordingExpired', { storagePath: 'o1/x.wav', policyDays: 30 }, 'system:retention'), 'recording_expired'],
    [recorded('TranscriptExpired', { policyDays: 90 }, 'system:retention'), 'transcript_expired'],
  ];
  for (const [e, name] of cases) {
    assert.ok(SSE_SOURCE_TYPES.has(e.type), e.type);
    assert.ok((SSE_EVENTS as readonly string[]).includes(name));
    tracker.observe(e);
    const msg = await toSseMessage(e, tracker);
    assert.ok(msg, e.type);
    assert.is(msg!.event, name);
    assert.is(msg!.id, e.position);
    assert.is(msg!.orgId, 'o1');
    assert.equal(JSON.parse(msg!.data), { callId: 'c1', at: e.metadata.recordedAt });
  }
});

test.run();
