import type { ColumnType } from 'kysely';
import type { CallLogsTable } from '../projections/callLogs/columns.ts';
import type { CallKeysTable } from '../privacy/keyring.ts';
import type { CallErasuresTable } from '../projections/erasures/evolve.ts';
import type { Int8, Timestamp } from './columnTypes.ts';

export type { Int8, Timestamp };

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

export interface OrgMappingsTable {
  kind: 'assistant' | 'phone_number' | 'vapi_org';
  value: string;
  org_id: string;
}

export interface SchemaMigrationsTable {
  name: string;
  applied_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface OrgRetentionTable {
  org_id: string;
  recording_days: number | null;
  transcript_days: number | null;
  updated_at: Timestamp;
  updated_by: string;
  last_position: Int8;
}

export interface DB {
  events: EventsTable;
  streams: StreamsTable;
  checkpoints: CheckpointsTable;
  leases: LeasesTable;
  call_logs: CallLogsTable;
  org_mappings: OrgMappingsTable;
  schema_migrations: SchemaMigrationsTable;
  call_keys: CallKeysTable;
  org_retention: OrgRetentionTable;
  call_erasures: CallErasuresTable;
}
