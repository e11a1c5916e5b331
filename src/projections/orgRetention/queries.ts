import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';

export interface OrgRetentionOverride {
  orgId: string;
  /** null = the default (RETENTION_RECORDING_DAYS). */
  recordingDays: number | null;
  transcriptDays: number | null;
  updatedAt: string;
  updatedBy: string;
}

/** Every org's override (org_retention, kept by the org_retention projector). */
export async function retentionOverrides(db: Kysely<DB>): Promise<Map<string, OrgRetentionOverride>> {
  const rows = await db.selectFrom('org_retention').selectAll().execute();
  return new Map(
    rows.map((r) => [
      r.org_id,
      { orgId: r.org_id, recordingDays: r.recording_days, transcriptDays: r.transcript_days, updatedAt: new Date(r.updated_at).toISOString(), updatedBy: r.updated_by },
    ]),
  );
}
