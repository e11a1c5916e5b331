import type { EventStore, RecordedEvent } from '../events/port.ts';
import type { EncryptingEventStore } from '../privacy/encryptingStore.ts';
import type { Projector } from './projector.ts';

/** A page of the log as a projector needs it. */
export interface ProjectorPage {
  /** The log position the page covers up to (the checkpoint after it); `after` when there was nothing new. */
  last: number;
  /** True when the page reached the head of the log as it was read: nothing more to read now. */
  atHead: boolean;
  /** The page's events the projector handles, in log order, personal fields opened (unless it reads them sealed). */
  handled: RecordedEvent[];
}

/** The encrypting store's two extra faces, recognised through any wrapper (the metrics proxy passes them on). */
type Opening = Pick<EncryptingEventStore, 'sealedStore' | 'openEvents'>;
const opening = (store: EventStore): Opening | undefined =>
  'sealedStore' in store && 'openEvents' in store ? (store as unknown as Opening) : undefined;

/**
 * Reads one page after `after` of the events the projector handles. Through the encrypting store the page is read
 * as stored and only the projector's events are opened: a projector never pays to decrypt what it skips. A
 * projector that reads the log `sealed` gets its events as stored, and copies their sealed fields as they are.
 *
 * Where the store can filter by type (PostgreSQL, PGlite) only the projector's types are read: the head is taken
 * first, and a page shorter than `limit` has seen every such event up to that head, so the checkpoint moves to it
 * past the events of other types (the retention projector reads one type in thousands). Elsewhere a page of the
 * whole log is read and filtered here.
 */
export async function readProjectorPage(store: EventStore, after: number, limit: number, projector: Pick<Projector, 'handles' | 'sealed'>): Promise<ProjectorPage> {
  const o = opening(store);
  const source = o ? o.sealedStore : store;
  let kept: RecordedEvent[];
  let last: number;
  let atHead: boolean;
  if (source.readAllOfTypes) {
    const head = await source.headPosition();
    // Nothing appended since the checkpoint (an idle poll): no page to read, and no union of index ranges to plan.
    if (head <= after) return { last: after, atHead: true, handled: [] };
    kept = await source.readAllOfTypes({ after, limit, types: [...projector.handles] });
    atHead = kept.length < limit;
    const lastKept = kept.length > 0 ? kept[kept.length - 1]!.position : after;
    last = atHead ? Math.max(head, lastKept, after) : lastKept;
  } else {
    const page = await source.readAll({ after, limit });
    kept = page.filter((e) => projector.handles.has(e.type));
    atHead = page.length < limit;
    last = page.length > 0 ? page[page.length - 1]!.position : after;
  }
  const handled = o && kept.length > 0 && !projector.sealed ? await o.openEvents(kept) : kept;
  return { last, atHead, handled };
}
