import { AppendQueueFullError } from '../events/appendErrors.ts';
import { validateEventData } from '../events/catalog.ts';
import type { AppendResult, EventStore, ExpectedRevision, NewEvent, RecordedEvent, Subscription } from '../events/port.ts';
import { ERASED, isSealed, open, seal, type DataKey } from './crypto.ts';
import { PERSONAL_EVENT_FIELDS } from './fields.ts';
import { keyId, type KeyState, type Keyring } from './keyring.ts';

/**
 * The event store as every reader and writer of callrec sees it: personal fields (PERSONAL_EVENT_FIELDS) are
 * sealed with the call's data key before they reach the log, and opened again on every read.
 *
 * - Append: each non-null string personal field is sealed with the call's key for its purpose (created on first
 *   use); the field name is the sealing context. When that key was destroyed (the call was erased, its transcript
 *   shredded) the field is written as `[erased]` and no key is made again. Sealing is deterministic, so a repeated
 *   append of the same event is still a duplicate.
 * - Read (readStream, readAll, subscribe): sealed fields are opened with one keyring lookup per page; a destroyed
 *   or never-created key reads as `[erased]`. Anything not sealed (events written before encryption, tombstones)
 *   passes through unchanged. A sealed value that does not open under a live key is an error naming
 *   PII_MASTER_KEY: the reader stops rather than handing out ciphertext or guesses.
 */
export interface EncryptingEventStore extends EventStore {
  /** The keyring the store seals and opens with (read models and erasure share it). */
  readonly keyring: Keyring;
  /** The store underneath, which holds and returns sealed values (copies between stores use it). */
  readonly sealedStore: EventStore;
  /** Opens the sealed fields of events read past the store (e.g. straight from the events table). */
  openEvents(events: RecordedEvent[]): Promise<RecordedEvent[]>;
  /** True while APPEND_QUEUE_MAX appends wait (in the adapter's queue, or for their keys): a webhook can be refused early. */
  queueFull(): boolean;
}

/** A sealed personal field that cannot be opened, or data keys the master key cannot unwrap. */
export class PersonalDataKeyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PersonalDataKeyError';
  }
}

const record = (data: unknown): Record<string, unknown> | undefined =>
  data !== null && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined;

/** Stable JSON (sorted keys) for comparing event data whatever its key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const obj = record(value);
  if (obj) return `{${Object.keys(obj).sort().map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`).join(',')}}`;
  return JSON.stringify(value) ?? 'undefined';
}

export interface EncryptingStoreOptions {
  /**
   * APPEND_QUEUE_MAX: appends still fetching their call's keys count as waiting too. When this many are, more are
   * refused at once (AppendQueueFullError) and `queueFull()` says so, as the adapter's own queue does.
   */
  maxQueued?: number;
}

export function createEncryptingEventStore<S extends EventStore & { queueFull?: () => boolean }>(
  inner: S,
  keyring: Keyring,
  opts: EncryptingStoreOptions = {},
): EncryptingEventStore & Omit<S, keyof EventStore> {
  // Appends between their arrival and the adapter's queue (fetching or creating their keys).
  let sealing = 0;
  const queueFull = () => (inner.queueFull?.() ?? false) || (opts.maxQueued !== undefined && sealing >= opts.maxQueued);

  /**
   * Seals one event's personal fields. `asRead` is the event as a reader will see it (plaintext, `[erased]` where
   * a destroyed key made a field so); `erased` tells whether that happened.
   */
  async function sealEvent(e: NewEvent): Promise<{ event: NewEvent; asRead: NewEvent; erased: boolean } | { refused: AppendResult }> {
    const fields = PERSONAL_EVENT_FIELDS[e.type];
    const data = record(e.data);
    const same = { event: e, asRead: e, erased: false };
    if (!fields || !data) return same;
    const present = Object.keys(fields).filter((f) => typeof data[f] === 'string');
    if (present.length === 0) return same;
    const callId = data.callId;
    // Without a call id the adapter refuses the event anyway (its schema requires one); nothing is written.
    if (typeof callId !== 'string' || callId.length === 0) return same;
    const orgId = e.metadata?.orgId ?? data.orgId;
    if (typeof orgId !== 'string' || orgId.length === 0) {
      const message = `event ${e.type} refused: metadata.orgId is required for an event holding personal data (its key belongs to the call's org)`;
      return { refused: { ok: false, error: { code: 'invalid_event', eventId: String(e.eventId), type: e.type, issues: ['metadata.orgId: required'], message } } };
    }
    const purposes = [...new Set(present.map((f) => fields[f]!))];
    const keys = new Map<string, DataKey | undefined>();
    await Promise.all(purposes.map(async (p) => keys.set(p, await keyring.ensure(callId, orgId, p))));
    const sealed: Record<string, unknown> = { ...data };
    const asRead: Record<string, unknown> = { ...data };
    let erased = false;
    for (const f of present) {
      const key = keys.get(fields[f]!);
      if (key) sealed[f] = seal(key, f, data[f] as string);
      else {
        sealed[f] = asRead[f] = ERASED;
        erased = true;
      }
    }
    return { event: { ...e, data: sealed }, asRead: { ...e, data: asRead }, erased };
  }

  // AES-GCM refuses to unwrap a data key under another master key: say which setting is wrong.
  const wrongMaster = (err: unknown) =>
    new PersonalDataKeyError(
      'PII_MASTER_KEY does not unwrap the data keys in call_keys: this database was written with another PII_MASTER_KEY (restore the original key; personal data stays unreadable without it)',
      { cause: err },
    );

  /** A live key, unwrapped (the keyring unwraps on first use). */
  function keyOf(state: { key: DataKey }): DataKey {
    try {
      return state.key;
    } catch (err) {
      throw wrongMaster(err);
    }
  }

  function openEvent(e: RecordedEvent, keys: Map<string, KeyState>): RecordedEvent {
    const fields = PERSONAL_EVENT_FIELDS[e.type];
    const data = record(e.data);
    if (!fields || !data) return e;
    let out: Record<string, unknown> | undefined;
    for (const f of Object.keys(fields)) {
      const value = data[f];
      if (!isSealed(value)) continue;
      out ??= { ...data };
      const state = typeof data.callId === 'string' ? keys.get(keyId(data.callId, fields[f]!)) : undefined;
      if (state?.state !== 'live') {
        out[f] = ERASED;
        continue;
      }
      const key = keyOf(state);
      try {
        out[f] = open(key, f, value);
      } catch (err) {
        throw new PersonalDataKeyError(
          `the sealed ${f} of event ${e.eventId} (${e.type}, call ${String(data.callId)}) does not open with its data key: it was sealed under another key. Check that PII_MASTER_KEY is the key this database was written with`,
          { cause: err },
        );
      }
    }
    return out ? { ...e, data: out } : e;
  }

  async function openEvents(events: RecordedEvent[]): Promise<RecordedEvent[]> {
    const callIds = new Set<string>();
    for (const e of events) {
      const fields = PERSONAL_EVENT_FIELDS[e.type];
      const data = record(e.data);
      if (fields && data && typeof data.callId === 'string' && Object.keys(fields).some((f) => isSealed(data[f]))) callIds.add(data.callId);
    }
    if (callIds.size === 0) return events;
    const keys = await keyring.lookup([...callIds]);
    return events.map((e) => openEvent(e, keys));
  }

  /**
   * After a destroyed key made a field `[erased]`, a repeat of an event written before the erasure no longer
   * matches the stored bytes. It is still the same event: when every event of the append is stored, under the
   * same stream and type, with the same data as it now reads, the append is a duplicate.
   */
  async function repeatAfterErasure(streamId: string, events: NewEvent[]): Promise<AppendResult | undefined> {
    const stored = new Map((await openEvents(await inner.readStream(streamId))).map((e) => [e.eventId, e]));
    const found: RecordedEvent[] = [];
    for (const e of events) {
      const s = stored.get(e.eventId.toLowerCase());
      const checked = validateEventData(e.type, e.data);
      if (!s || !checked.ok || s.type !== e.type || canonical(s.data) !== canonical(checked.data)) return undefined;
      found.push(s);
    }
    return { ok: true, nextRevision: Math.max(...found.map((s) => s.revision)), positions: found.map((s) => s.position), duplicate: true };
  }

  const store: EncryptingEventStore = {
    ...(inner as object),
    kind: inner.kind,
    keyring,
    sealedStore: inner,
    openEvents,
    queueFull,
    async append(streamId: string, events: NewEvent[], expected?: ExpectedRevision) {
      if (!Array.isArray(events) || !events.some((e) => PERSONAL_EVENT_FIELDS[e?.type])) return inner.append(streamId, events, expected);
      if (opts.maxQueued !== undefined && queueFull()) throw new AppendQueueFullError(opts.maxQueued);
      const sealed: NewEvent[] = [];
      const asRead: NewEvent[] = [];
      let erased = false;
      sealing += 1;
      try {
        for (const e of events) {
          const r = await sealEvent(e);
          if ('refused' in r) return r.refused;
          sealed.push(r.event);
          asRead.push(r.asRead);
          erased ||= r.erased;
        }
      } finally {
        sealing -= 1;
      }
      const result = await inner.append(streamId, sealed, expected);
      if (!result.ok && result.error.code === 'event_id_conflict' && erased) return (await repeatAfterErasure(streamId, asRead)) ?? result;
      return result;
    },
    async readStream(streamId, opts) {
      return openEvents(await inner.readStream(streamId, opts));
    },
    async readAll(opts) {
      return openEvents(await inner.readAll(opts));
    },
    // Only where the store underneath can (the spread above would otherwise hand out its sealed pages).
    readAllOfTypes: inner.readAllOfTypes ? async (opts) => openEvents(await inner.readAllOfTypes!(opts)) : undefined,
    subscribe(after, opts) {
      return openingSubscription(inner.subscribe(after, opts), openEvents, opts?.batchSize ?? 500);
    },
    headPosition: () => inner.headPosition(),
    waitForAppend: (timeoutMs) => inner.waitForAppend(timeoutMs),
    close: () => inner.close(),
  };
  return store as EncryptingEventStore & Omit<S, keyof EventStore>;
}

const TICK = Symbol('tick');

/**
 * The inner subscription's events, opened a page at a time: events the inner iterator hands over without
 * waiting (one page it has read) are gathered, up to `maxPage`, and opened with one keyring lookup. The first
 * event that is not ready before the next turn of the event loop (the inner reader is waiting for I/O) ends
 * the page, so a live event is never held back waiting for company.
 */
export function openingSubscription(inner: Subscription, openPage: (events: RecordedEvent[]) => Promise<RecordedEvent[]>, maxPage: number): Subscription {
  const source = inner[Symbol.asyncIterator]();
  async function* run(): AsyncGenerator<RecordedEvent> {
    let pending: Promise<IteratorResult<RecordedEvent>> | undefined;
    for (;;) {
      const first = await (pending ?? source.next());
      pending = undefined;
      if (first.done) return;
      const page = [first.value];
      let done = false;
      while (page.length < maxPage) {
        const next = source.next();
        const tick = new Promise<typeof TICK>((resolve) => setImmediate(resolve, TICK));
        const r = await Promise.race([next, tick]);
        if (r === TICK) {
          pending = next;
          break;
        }
        if (r.done) {
          done = true;
          break;
        }
        page.push(r.value);
      }
      yield* await openPage(page);
      if (done) return;
    }
  }
  const iterator = run();
  return {
    [Symbol.asyncIterator]: () => iterator,
    async close() {
      await inner.close();
      await iterator.return(undefined);
    },
  };
}
