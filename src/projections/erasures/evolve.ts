import type { EventData } from '../../events/catalog.ts';
import type { RecordedEvent } from '../../events/port.ts';
import type { Int8, Timestamp } from '../../db/columnTypes.ts';

/**
 * call_erasures: the erasure process's to-do list, one row per erased call (db/migrations/012_erasure.sql).
 * Pure evolve; the projector writes the rows. Ids, times and states only: nothing personal.
 */

export const ERASURE_EVENTS = new Set(['CallErased', 'ErasureStepFailed', 'ErasureCompleted', 'VapiCallDataDeleted', 'VapiCallDataDeleteFailed']);

export type VapiDeletionStatus = 'pending' | 'retry_scheduled' | 'deleted' | 'given_up';

export interface CallErasureRow {
  call_id: string;
  org_id: string;
  erased_at: string;
  erased_by: string;
  completed_at: string | null;
  attempts: number;
  retry_at: string | null;
  vapi_status: VapiDeletionStatus;
  vapi_attempts: number;
  vapi_retry_at: string | null;
  last_position: number;
}

export interface CallErasuresTable {
  call_id: string;
  org_id: string;
  erased_at: Timestamp;
  erased_by: string;
  completed_at: Timestamp | null;
  attempts: number;
  retry_at: Timestamp | null;
  vapi_status: VapiDeletionStatus;
  vapi_attempts: number;
  vapi_retry_at: Timestamp | null;
  last_position: Int8;
}

/** Pure: the row after one event (undefined until the call is erased; the first CallErased counts). */
export function evolveCallErasure(row: CallErasureRow | undefined, event: RecordedEvent): CallErasureRow | undefined {
  if (event.type === 'CallErased') {
    if (row) return row;
    const d = event.data as EventData<'CallErased'>;
    return {
      call_id: d.callId,
      org_id: d.orgId,
      erased_at: event.metadata.recordedAt,
      erased_by: event.metadata.actor,
      completed_at: null,
      attempts: 0,
      retry_at: null,
      vapi_status: 'pending',
      vapi_attempts: 0,
      vapi_retry_at: null,
      last_position: event.position,
    };
  }
  if (!row) return row;
  const r: CallErasureRow = { ...row, last_position: event.position };
  switch (event.type) {
    case 'ErasureStepFailed': {
      const d = event.data as EventData<'ErasureStepFailed'>;
      r.attempts = Math.max(r.attempts, d.attempt);
      if (!r.completed_at) r.retry_at = d.retryAt;
      return r;
    }
    case 'ErasureCompleted':
      r.completed_at = event.metadata.recordedAt;
      r.attempts += 1;
      r.retry_at = null;
      return r;
    case 'VapiCallDataDeleted': {
      const d = event.data as EventData<'VapiCallDataDeleted'>;
      r.vapi_status = 'deleted';
      r.vapi_attempts = Math.max(r.vapi_attempts, d.attempt);
      r.vapi_retry_at = null;
      return r;
    }
    case 'VapiCallDataDeleteFailed': {
      const d = event.data as EventData<'VapiCallDataDeleteFailed'>;
      if (r.vapi_status === 'deleted') return r;
      r.vapi_attempts = Math.max(r.vapi_attempts, d.attempt);
      r.vapi_status = d.retryAt ? 'retry_scheduled' : 'given_up';
      r.vapi_retry_at = d.retryAt;
      return r;
    }
    default:
      return row;
  }
}
