import type { Projector } from '../projector.ts';
import { ERASURE_EVENTS, evolveCallErasure, type CallErasureRow } from './evolve.ts';

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : (v as string | null));

function fromDb(row: Record<string, unknown>): CallErasureRow {
  return {
    ...(row as unknown as CallErasureRow),
    erased_at: iso(row.erased_at)!,
    completed_at: iso(row.completed_at),
    retry_at: iso(row.retry_at),
    vapi_retry_at: iso(row.vapi_retry_at),
    last_position: Number(row.last_position),
  };
}

/** call_erasures: one row per erased call, evolved in memory and upserted per batch. */
export const callErasuresProjector: Projector = {
  name: 'call_erasures',
  tables: ['call_erasures'],
  handles: ERASURE_EVENTS,
  partitionKey: (e) => (e.data as { callId: string }).callId,
  async apply(trx, events) {
    const ids = [...new Set(events.map((e) => (e.data as { callId: string }).callId))];
    const existing = await trx.selectFrom('call_erasures').selectAll().where('call_id', 'in', ids).execute();
    const rows = new Map<string, CallErasureRow>(existing.map((r) => [r.call_id, fromDb(r as Record<string, unknown>)]));
    const changed = new Set<string>();
    for (const e of events) {
      const id = (e.data as { callId: string }).callId;
      const next = evolveCallErasure(rows.get(id), e);
      if (next && next !== rows.get(id)) {
        rows.set(id, next);
        changed.add(id);
      }
    }
    if (changed.size === 0) return;
    await trx
      .insertInto('call_erasures')
      .values([...changed].map((id) => rows.get(id)!))
      .onConflict((oc) =>
        oc.column('call_id').doUpdateSet((eb) => ({
          completed_at: eb.ref('excluded.completed_at'),
          attempts: eb.ref('excluded.attempts'),
          retry_at: eb.ref('excluded.retry_at'),
          vapi_status: eb.ref('excluded.vapi_status'),
          vapi_attempts: eb.ref('excluded.vapi_attempts'),
          vapi_retry_at: eb.ref('excluded.vapi_retry_at'),
          last_position: eb.ref('excluded.last_position'),
        })),
      )
      .execute();
  },
};
