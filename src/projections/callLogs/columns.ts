import type { ColumnType } from 'kysely';
import type { Int8, Timestamp } from '../../db/columnTypes.ts';

/**
 * The one column spec of call_logs (db/migrations/002_call_logs.sql creates the table; test/projections/
 * callLogsColumns.test.ts checks that this spec and the table agree). The row type, the kysely table type, the
 * column list and the empty row are derived from it. `empty` is a new call's value (id, org_id and the
 * positions come from the first event); `search` (tsvector) is the projector's own and not part of a row.
 */
export const CALL_LOG_SPEC = {
  id: { type: 'text', notNull: true },
  org_id: { type: 'text', notNull: true },
  call_type: { type: 'text', empty: null },
  assistant_id: { type: 'text', empty: null },
  phone_number_id: { type: 'text', empty: null },
  customer_number: { type: 'text', empty: null },
  status: { type: 'text', notNull: true, empty: 'unknown' },
  status_at: { type: 'timestamptz', empty: null },
  started_at: { type: 'timestamptz', empty: null },
  ended_at: { type: 'timestamptz', empty: null },
  duration_seconds: { type: 'double precision', empty: null },
  ended_reason: { type: 'text', empty: null },
  transcript: { type: 'text', empty: null },
  summary: { type: 'text', empty: null },
  cost: { type: 'double precision', empty: null },
  recording_source_url: { type: 'text', empty: null },
  recording_stereo_source_url: { type: 'text', empty: null },
  recording_status: { type: 'text', notNull: true, empty: 'pending' },
  recording_storage_path: { type: 'text', empty: null },
  recording_signed_url: { type: 'text', empty: null },
  recording_signed_url_expires_at: { type: 'timestamptz', empty: null },
  recording_uploaded_at: { type: 'timestamptz', empty: null },
  transcript_only_fallback: { type: 'boolean', notNull: true, empty: false },
  recording_bytes: { type: 'bigint', empty: null },
  recording_duration_seconds: { type: 'double precision', empty: null },
  recording_sha256: { type: 'text', empty: null },
  recording_format: { type: 'text', empty: null },
  recording_content_type: { type: 'text', empty: null },
  recording_channels: { type: 'integer', empty: null },
  recording_attempts: { type: 'integer', notNull: true, empty: 0 },
  recording_next_retry_at: { type: 'timestamptz', empty: null },
  recording_error_code: { type: 'text', empty: null },
  recording_error: { type: 'text', empty: null },
  recording_missing: { type: 'boolean', notNull: true, empty: false },
  first_position: { type: 'bigint', notNull: true },
  last_position: { type: 'bigint', notNull: true },
  erased_at: { type: 'timestamptz', empty: null },
  erased_by: { type: 'text', empty: null },
  erase_reason: { type: 'text', empty: null },
  held_at: { type: 'timestamptz', empty: null },
  held_by: { type: 'text', empty: null },
  hold_reason: { type: 'text', empty: null },
  recording_expired_at: { type: 'timestamptz', empty: null },
  transcript_expired_at: { type: 'timestamptz', empty: null },
} as const satisfies Record<string, ColumnSpec>;

type SqlType = 'text' | 'timestamptz' | 'double precision' | 'bigint' | 'integer' | 'boolean';
interface ColumnSpec {
  type: SqlType;
  notNull?: true;
  empty?: string | number | boolean | null;
}

type Spec = typeof CALL_LOG_SPEC;
export type CallLogColumn = keyof Spec;
type Nullable<C> = C extends { notNull: true } ? never : null;

/** How the projector holds a value (timestamps as ISO strings, bigint as number). */
interface RowValue {
  text: string;
  timestamptz: string;
  'double precision': number;
  bigint: number;
  integer: number;
  boolean: boolean;
}
/** How kysely reads and writes it. */
interface DbValue {
  text: string;
  timestamptz: Timestamp;
  'double precision': number;
  bigint: Int8;
  integer: number;
  boolean: boolean;
}

/** One call_logs row as the projector computes it (timestamps as ISO strings). */
export type CallLogRow = { -readonly [K in CallLogColumn]: RowValue[Spec[K]['type']] | Nullable<Spec[K]> };

/** call_logs as kysely sees it. */
export type CallLogsTable = { [K in CallLogColumn]: DbValue[Spec[K]['type']] | Nullable<Spec[K]> } & {
  search: ColumnType<string, never, never>;
};

export const CALL_LOG_COLUMNS = Object.keys(CALL_LOG_SPEC) as CallLogColumn[];

const ofType = (type: SqlType) => CALL_LOG_COLUMNS.filter((c) => CALL_LOG_SPEC[c].type === type);
/** Columns whose database value is a timestamp (read back as Date, held as ISO text). */
export const CALL_LOG_TIMESTAMPS = ofType('timestamptz');
/** Columns whose database value is int8 (read back as string or bigint, held as number). */
export const CALL_LOG_INT8 = ofType('bigint');

/** A call's row before its first event applies. */
export function emptyCallLog(id: string, orgId: string, position: number): CallLogRow {
  const row: Record<string, unknown> = {};
  for (const c of CALL_LOG_COLUMNS) {
    const spec: ColumnSpec = CALL_LOG_SPEC[c];
    if ('empty' in spec) row[c] = spec.empty;
  }
  return { ...(row as Omit<CallLogRow, 'id' | 'org_id' | 'first_position' | 'last_position'>), id, org_id: orgId, first_position: position, last_position: position };
}
