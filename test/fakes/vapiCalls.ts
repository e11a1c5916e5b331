import { randomUUID } from 'node:crypto';

/** A Vapi Call object as `GET /call` returns it (the fields callrec reads, plus a few it ignores). */
export interface FakeCall {
  id: string;
  orgId: string;
  type: string;
  status: string;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  endedAt?: string;
  endedReason?: string;
  cost?: number;
  assistantId?: string;
  phoneNumberId?: string;
  customer?: { number: string };
  artifact?: Record<string, unknown>;
  analysis?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface FakeCallOptions {
  id?: string;
  /** When the call started ringing; default now − 10 min. */
  createdAt?: Date;
  durationSeconds?: number;
  /** false: still in progress. */
  ended?: boolean;
  /** The mono recording URL in artifact.recording.mono.combinedUrl (and artifact.recordingUrl). */
  recordingUrl?: string | null;
  assistantId?: string;
}

/** One call; ended (with transcript, summary, cost, customer and recording) unless `ended: false`. */
export function makeFakeCall(o: FakeCallOptions = {}): FakeCall {
  const created = o.createdAt ?? new Date(Date.now() - 10 * 60_000);
  const started = new Date(created.getTime() + 2000);
  const ended = new Date(started.getTime() + (o.durationSeconds ?? 42) * 1000);
  const call: FakeCall = {
    id: o.id ?? randomUUID(),
    orgId: '9d3c6b1e-2f4a-4e57-8a90-1b2c3d4e5f60',
    type: 'inboundPhoneCall',
    status: 'in-progress',
    createdAt: created.toISOString(),
    updatedAt: started.toISOString(),
    startedAt: started.toISOString(),
    assistantId: o.assistantId ?? 'asst-reconcile',
    phoneNumberId: 'pn-reconcile',
    customer: { number: '+14155550123' },
  };
  return o.ended === false ? call : endFakeCall(call, ended, o.recordingUrl);
}

/** Marks `call` ended at `at` (updatedAt moves too, as on Vapi), with its artifact and analysis. */
export function endFakeCall(call: FakeCall, at = new Date(), recordingUrl: string | null = null): FakeCall {
  Object.assign(call, {
    status: 'ended',
    endedAt: at.toISOString(),
    updatedAt: new Date(at.getTime() + 500).toISOString(),
    endedReason: 'customer-ended-call',
    cost: 0.0731,
    artifact: {
      transcript: 'AI: Thanks for calling.\nUser: I would like to book a table.',
      ...(recordingUrl ? { recording: { mono: { combinedUrl: recordingUrl } }, recordingUrl } : {}),
    },
    analysis: { summary: 'The caller booked a table.' },
  });
  return call;
}

/** The end-of-call-report Vapi would send for an ended `call` (a webhook body). */
export function reportFor(call: FakeCall): { message: Record<string, unknown> } {
  return {
    message: {
      type: 'end-of-call-report',
      timestamp: Date.parse(call.updatedAt),
      endedReason: call.endedReason,
      startedAt: call.startedAt,
      endedAt: call.endedAt,
      cost: call.cost,
      call: { id: call.id, orgId: call.orgId, type: call.type, assistantId: call.assistantId, phoneNumberId: call.phoneNumberId, status: 'ended' },
      customer: call.customer,
      artifact: call.artifact,
      analysis: call.analysis,
    },
  };
}
