import type { EventData } from '../../events/catalog.ts';
import type { RecordedEvent } from '../../events/port.ts';
import type { Projector } from '../projector.ts';

/** Pure: the org_retention row of one RetentionPolicySet (null days = the deployment's default). */
export function retentionRow(e: RecordedEvent) {
  const d = e.data as EventData<'RetentionPolicySet'>;
  return {
    org_id: d.orgId,
    recording_days: d.recordingDays,
    transcript_days: d.transcriptDays,
    updated_at: e.metadata.recordedAt,
    updated_by: e.metadata.actor,
    last_position: e.position,
  };
}

/**
 * org_retention: each org's retention override, the last RetentionPolicySet of its `retention-<org>` stream.
 * A row whose days are both null says "back to the default" (and who said it, when). Rebuildable from the log.
 */
export const orgRetentionProjector: Projector = {
  name: 'org_retention',
  tables: ['org_retention'],
  handles: new Set(['RetentionPolicySet']),
  async apply(trx, events) {
    // The last event per org wins; a batch holds them in log order.
    const last = new Map<string, ReturnType<typeof retentionRow>>();
    for (const e of events) if (e.type === 'RetentionPolicySet') last.set((e.data as EventData<'RetentionPolicySet'>).orgId, retentionRow(e));
    if (last.size === 0) return;
    await trx
      .insertInto('org_retention')
      .values([...last.values()])
      .onConflict((oc) =>
        oc.column('org_id').doUpdateSet((eb) => ({
          recording_days: eb.ref('excluded.recording_days'),
          transcript_days: eb.ref('excluded.transcript_days'),
          updated_at: eb.ref('excluded.updated_at'),
          updated_by: eb.ref('excluded.updated_by'),
          last_position: eb.ref('excluded.last_position'),
        })),
      )
      .execute();
  },
};
