import type { ColumnType, Generated } from 'kysely';

/** Columns as kysely sees them. int8 comes back as string (pg) or number/bigint (PGlite): normalise with Number(). */
type Int8 = ColumnType<string | number | bigint, number | bigint | string, number | bigint | string>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface EventsTable {
  position: Int8;
  stream_id: string;
  stream_revision: Int8;
  event_id: string;
  type: string;
  data: unknown;
  metadata: unknown;
  recorded_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface StreamsTable {
  stream_id: string;
  revision: Int8;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface CheckpointsTable {
  name: string;
  position: Int8;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface LeasesTable {
  name: string;
  owner: string;
  expires_at: Timestamp;
}

export interface CallLogsTable {
  id: string;
  org_id: string;
  call_type: string | null;
  assistant_id: string | null;
  phone_number_id: string | null;
  customer_number: string | null;
  status: string;
  status_at: Timestamp | null;
  started_at: Timestamp | null;
  ended_at: Timestamp | null;
  duration_seconds: number | null;
  ended_reason: string | null;
  transcript: string | null;
  summary: string | null;
  cost: number | null;
  recording_source_url: string | null;
  recording_stereo_source_url: string | null;
  recording_status: string;
  recording_storage_path: string | null;
  recording_signed_url: string | null;
  recording_signed_url_expires_at: Timestamp | null;
  recording_uploaded_at: Timestamp | null;
  transcript_only_fallback: boolean;
  recording_bytes: Int8 | null;
  recording_duration_seconds: number | null;
  recording_sha256: string | null;
  recording_format: string | null;
  recording_content_type: string | null;
  recording_channels: number | null;
  recording_attempts: number;
  recording_next_retry_at: Timestamp | null;
  recording_error_code: string | null;
  recording_error: string | null;
  recording_missing: boolean;
  first_position: Int8;
  last_position: Int8;
  search: ColumnType<string, never, never>;
}

export interface OrgMappingsTable {
  kind: 'assistant' | 'phone_number' | 'vapi_org';
  value: string;
  org_id: string;
}

export interface SchemaMigrationsTable {
  name: string;
  applied_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface DB {
  events: EventsTable;
  streams: StreamsTable;
  checkpoints: CheckpointsTable;
  leases: LeasesTable;
  call_logs: CallLogsTable;
  org_mappings: OrgMappingsTable;
  schema_migrations: SchemaMigrationsTable;
  [table: string]: any;
}
