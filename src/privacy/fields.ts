import type { KeyPurpose } from './keyring.ts';

/**
 * Which fields hold personal data, and which of the call's keys protects each. Every other field of every
 * event is not personal (times, durations, status, cost, ids, storage paths) and stays readable after erasure.
 */
export const PERSONAL_EVENT_FIELDS: Readonly<Record<string, Readonly<Record<string, KeyPurpose>>>> = {
  CallEnded: {
    customerNumber: 'call',
    recordingUrl: 'call',
    stereoRecordingUrl: 'call',
    transcript: 'transcript',
    summary: 'transcript',
  },
  RecordingAccessed: { ip: 'call', userAgent: 'call' },
};

/**
 * The personal columns of the read models, by table: the key purpose that protects each, and the event field it
 * copies. A column is sealed under that field's name (the sealing context), so the sealed value of the field is
 * the sealed value of the column: a projector copies it from the log as it is, without opening and sealing again.
 */
export const PERSONAL_COLUMNS = {
  call_logs: {
    customer_number: { purpose: 'call', field: 'customerNumber' },
    recording_source_url: { purpose: 'call', field: 'recordingUrl' },
    recording_stereo_source_url: { purpose: 'call', field: 'stereoRecordingUrl' },
    transcript: { purpose: 'transcript', field: 'transcript' },
    summary: { purpose: 'transcript', field: 'summary' },
  },
  recording_downloads: { ip: { purpose: 'call', field: 'ip' }, user_agent: { purpose: 'call', field: 'userAgent' } },
} as const satisfies Record<string, Record<string, { purpose: KeyPurpose; field: string }>>;

/** The personal fields of one event type protected by one of `purposes`. */
export function personalFields(type: string, purposes: readonly KeyPurpose[]): string[] {
  const fields = PERSONAL_EVENT_FIELDS[type];
  return fields ? Object.keys(fields).filter((f) => purposes.includes(fields[f]!)) : [];
}
