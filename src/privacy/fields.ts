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

/** The personal columns of the read models, by table. */
export const PERSONAL_COLUMNS = {
  call_logs: {
    customer_number: 'call',
    recording_source_url: 'call',
    recording_stereo_source_url: 'call',
    transcript: 'transcript',
    summary: 'transcript',
  },
  recording_downloads: { ip: 'call', user_agent: 'call' },
} as const satisfies Record<string, Record<string, KeyPurpose>>;

/** The personal fields of one event type protected by one of `purposes`. */
export function personalFields(type: string, purposes: readonly KeyPurpose[]): string[] {
  const fields = PERSONAL_EVENT_FIELDS[type];
  return fields ? Object.keys(fields).filter((f) => purposes.includes(fields[f]!)) : [];
}
