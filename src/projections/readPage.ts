import type { EventStore, RecordedEvent } from '../events/port.ts';
import type { EncryptingEventStore } from '../privacy/encryptingStore.ts';
import type { Projector } from './projector.ts';

/** A page of the log as a projector needs it. */
export interface ProjectorPage {
  /** How many events the page held (all types): fewer than the limit means the head was reached. */
  size: number;
  /** Position of the page's last event (the checkpoint after it), or `after` for an empty page. */
  last: number;
  /** The page's events the projector handles, in log order, personal fields opened (unless it reads them sealed). */
  handled: RecordedEvent[];
}

/** The encrypting store's two extra faces, recognised through any wrapper (the metrics proxy passes them on). */
type Opening = Pick<EncryptingEventStore, 'sealedStore' | 'openEvents'>;
const opening = (store: EventStore): Opening | undefined =>
  'sealedStore' in store && 'openEvents' in store ? (store as unknown as Opening) : undefined;

/**
 * Reads one page after `after` and keeps the events the projector handles. Through the encrypting store the page
 * is read as stored and only the kept events are opened: a projector never pays to decrypt what it skips (the
 * metrics and retention projectors skip almost every transcript; call_logs skips every download's IP). A projector
 * that reads the log `sealed` gets the kept events as stored, and copies their sealed fields as they are.
 */
export async function readProjectorPage(store: EventStore, after: number, limit: number, projector: Pick<Projector, 'handles' | 'sealed'>): Promise<ProjectorPage> {
  const o = opening(store);
  const page = await (o ? o.sealedStore : store).readAll({ after, limit });
  const kept = page.filter((e) => projector.handles.has(e.type));
  const handled = o && kept.length > 0 && !projector.sealed ? await o.openEvents(kept) : kept;
  return { size: page.length, last: page.length > 0 ? page[page.length - 1]!.position : after, handled };
}
