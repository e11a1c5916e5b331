import { sql } from 'kysely';
import type { Database } from '../db/connect.ts';
import { deriveDataKey, newKeyMaterial, searchKey, unwrapKey, wrapKey, type DataKey } from './crypto.ts';

/**
 * The per-call data keys, kept in `call_keys` (outside the log), wrapped under PII_MASTER_KEY.
 *
 * Each call has up to two keys, by what they protect:
 * - `call`: the caller's number, the recording's source URLs, the IP and user agent of recording accesses;
 * - `transcript`: transcript and summary (shredded alone when transcript retention expires).
 * Destroying a key (erasure, retention) clears the wrapped bytes and records when and why; a destroyed key is
 * never created again, so a late redelivery of a webhook cannot bring an erased call's data back.
 */

export type KeyPurpose = 'call' | 'transcript';
export const KEY_PURPOSES: readonly KeyPurpose[] = ['call', 'transcript'];

/** A key as a reader sees it: usable, destroyed (the data is gone), or never created (nothing was sealed). */
export type KeyState = { state: 'live'; key: DataKey } | { state: 'destroyed' } | { state: 'absent' };

export interface CallKeysTable {
  call_id: string;
  purpose: KeyPurpose;
  org_id: string;
  wrapped_key: Buffer | null;
  created_at: Date | string;
  destroyed_at: Date | string | null;
  destroyed_reason: string | null;
}

export interface Keyring {
  /** The blinding key of the search index (derived from the master key). */
  readonly searchKey: Buffer;
  /** The call's key for `purpose`, created when it does not exist yet; `undefined` when it was destroyed. */
  ensure(callId: string, orgId: string, purpose: KeyPurpose): Promise<DataKey | undefined>;
  /**
   * The keys of many calls at once (one query for those not cached). Key: `${callId}\0${purpose}`. A live key is
   * unwrapped when its `key` is first read, which throws when PII_MASTER_KEY does not unwrap it.
   */
  lookup(callIds: readonly string[]): Promise<Map<string, KeyState>>;
  /** One call's key state for `purpose` (a live key unwrapped: throws when PII_MASTER_KEY does not unwrap it). */
  get(callId: string, purpose: KeyPurpose): Promise<KeyState>;
  /** Destroy the call's keys of these purposes (idempotent). Returns how many live keys were destroyed now. */
  destroy(callId: string, orgId: string, purposes: readonly KeyPurpose[], reason: string): Promise<number>;
}

export const keyId = (callId: string, purpose: KeyPurpose) => `${callId}\0${purpose}`;
const aad = (callId: string, purpose: KeyPurpose) => `call_keys:${callId}:${purpose}`;

export interface KeyringOptions {
  /** How long an unwrapped key is reused before call_keys is read again (another instance may have destroyed it). */
  cacheMs?: number;
  /** Most keys held unwrapped in memory. */
  cacheSize?: number;
  clock?: () => number;
}

/** `master`: the 32 bytes of PII_MASTER_KEY. */
export function createKeyring(database: Database, master: Buffer, opts: KeyringOptions = {}): Keyring {
  if (master.length !== 32) throw new Error('PII_MASTER_KEY must be 32 bytes');
  const cacheMs = opts.cacheMs ?? 5_000;
  const cacheSize = opts.cacheSize ?? 50_000;
  const now = opts.clock ?? Date.now;
  const db = database.db;
  // Insertion-ordered map used as an LRU with expiry; a destroyed state is final and kept until evicted.
  const cache = new Map<string, { state: KeyState; until: number }>();

  const remember = (id: string, state: KeyState) => {
    cache.delete(id);
    cache.set(id, { state, until: state.state === 'destroyed' ? Number.POSITIVE_INFINITY : now() + cacheMs });
    if (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
  };
  const cached = (id: string): KeyState | undefined => {
    const hit = cache.get(id);
    if (!hit) return undefined;
    if (hit.until < now()) {
      cache.delete(id);
      return undefined;
    }
    return hit.state;
  };
  /**
   * A row's state. A live key is unwrapped when first used (`eager`: now): a projection that copies sealed values
   * from the log as they are needs to know that a call's key lives, not the key itself.
   */
  const toState = (row: Pick<CallKeysTable, 'call_id' | 'purpose' | 'wrapped_key'>, eager = false): KeyState => {
    if (!row.wrapped_key) return { state: 'destroyed' };
    const wrapped = Buffer.from(row.wrapped_key);
    const bound = aad(row.call_id, row.purpose);
    let key: DataKey | undefined;
    const state = {
      state: 'live' as const,
      get key(): DataKey {
        return (key ??= deriveDataKey(unwrapKey(master, wrapped, bound)));
      },
    };
    if (eager) void state.key;
    return state;
  };

  // Keys to create, gathered over one turn of the event loop and written by one INSERT (one commit for many
  // new calls, as appends share a transaction), then handed to every caller that asked.
  type EnsureWaiter = { callId: string; orgId: string; purpose: KeyPurpose; resolve(key: DataKey | undefined): void; reject(err: unknown): void };
  let waiting: EnsureWaiter[] = [];
  let flushScheduled = false;
  const ENSURE_BATCH = 1000;

  async function createKeys(batch: EnsureWaiter[]) {
    const wanted = new Map<string, { callId: string; orgId: string; purpose: KeyPurpose; waiters: EnsureWaiter[] }>();
    for (const w of batch) {
      const id = keyId(w.callId, w.purpose);
      const item = wanted.get(id) ?? { callId: w.callId, orgId: w.orgId, purpose: w.purpose, waiters: [] };
      item.waiters.push(w);
      wanted.set(id, item);
    }
    try {
      const material = newKeyMaterial(wanted.size);
      const items = [...wanted.values()].map((item, i) => ({ ...item, ...material[i]! }));
      const now = new Date();
      const inserted = await db
        .insertInto('call_keys')
        .values(items.map((i) => ({ call_id: i.callId, purpose: i.purpose, org_id: i.orgId, wrapped_key: wrapKey(master, i.raw, aad(i.callId, i.purpose), i.wrapIv), created_at: now, destroyed_at: null, destroyed_reason: null })))
        .onConflict((oc) => oc.columns(['call_id', 'purpose']).doNothing())
        .returning(['call_id', 'purpose'])
        .execute();
      const ours = new Set(inserted.map((r) => keyId(r.call_id, r.purpose)));
      // Rows that were there already (another instance made them, or they were destroyed): read them.
      const existing = items.filter((i) => !ours.has(keyId(i.callId, i.purpose)));
      const states = existing.length > 0 ? await keyring.lookup([...new Set(existing.map((i) => i.callId))]) : new Map<string, KeyState>();
      for (const item of items) {
        const id = keyId(item.callId, item.purpose);
        if (ours.has(id)) {
          const key = deriveDataKey(item.raw);
          remember(id, { state: 'live', key });
          for (const w of item.waiters) w.resolve(key);
          continue;
        }
        const state = states.get(id);
        if (state?.state === 'live') for (const w of item.waiters) w.resolve(state.key);
        else if (state?.state === 'destroyed') for (const w of item.waiters) w.resolve(undefined);
        else for (const w of item.waiters) w.reject(new Error(`the ${item.purpose} key of call ${item.callId} was neither created nor found`));
      }
    } catch (err) {
      for (const item of wanted.values()) for (const w of item.waiters) w.reject(err);
    }
  }

  function flushEnsures() {
    flushScheduled = false;
    const all = waiting;
    waiting = [];
    for (let i = 0; i < all.length; i += ENSURE_BATCH) void createKeys(all.slice(i, i + ENSURE_BATCH));
  }

  const keyring: Keyring = {
    searchKey: searchKey(master),

    async ensure(callId, orgId, purpose) {
      const known = cached(keyId(callId, purpose));
      if (known?.state === 'live') return known.key;
      if (known?.state === 'destroyed') return undefined;
      return new Promise<DataKey | undefined>((resolve, reject) => {
        waiting.push({ callId, orgId, purpose, resolve, reject });
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flushEnsures);
        }
      });
    },

    async lookup(callIds) {
      const out = new Map<string, KeyState>();
      const missing = new Set<string>();
      for (const callId of callIds) {
        for (const purpose of KEY_PURPOSES) {
          const id = keyId(callId, purpose);
          const known = cached(id);
          if (known) out.set(id, known);
          else missing.add(callId);
        }
      }
      if (missing.size > 0) {
        const rows = await db.selectFrom('call_keys').select(['call_id', 'purpose', 'wrapped_key']).where('call_id', '=', sql<string>`any(${[...missing]}::text[])`).execute();
        for (const row of rows) {
          const state = toState(row);
          remember(keyId(row.call_id, row.purpose), state);
          out.set(keyId(row.call_id, row.purpose), state);
        }
        for (const callId of missing) {
          for (const purpose of KEY_PURPOSES) if (!out.has(keyId(callId, purpose))) out.set(keyId(callId, purpose), { state: 'absent' });
        }
      }
      return out;
    },

    async get(callId, purpose) {
      const id = keyId(callId, purpose);
      const known = cached(id);
      if (known) return known;
      const row = await db.selectFrom('call_keys').select(['call_id', 'purpose', 'wrapped_key']).where('call_id', '=', callId).where('purpose', '=', purpose).executeTakeFirst();
      if (!row) return { state: 'absent' };
      const state = toState(row, true);
      remember(id, state);
      return state;
    },

    async destroy(callId, orgId, purposes, reason) {
      let destroyed = 0;
      for (const purpose of purposes) {
        // A row that never existed is created destroyed, so the key can never be made later.
        await db
          .insertInto('call_keys')
          .values({ call_id: callId, purpose, org_id: orgId, wrapped_key: null, created_at: new Date(), destroyed_at: new Date(), destroyed_reason: reason })
          .onConflict((oc) => oc.columns(['call_id', 'purpose']).doNothing())
          .execute();
        const res = await db
          .updateTable('call_keys')
          .set({ wrapped_key: null, destroyed_at: new Date(), destroyed_reason: reason })
          .where('call_id', '=', callId)
          .where('purpose', '=', purpose)
          .where('wrapped_key', 'is not', null)
          .executeTakeFirst();
        destroyed += Number(res.numUpdatedRows);
        remember(keyId(callId, purpose), { state: 'destroyed' });
      }
      return destroyed;
    },
  };
  return keyring;
}
