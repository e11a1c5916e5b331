import { isSealed, open, seal } from './crypto.ts';
import { PERSONAL_COLUMNS, PERSONAL_EVENT_FIELDS } from './fields.ts';
import { keyId, type KeyPurpose, type KeyState, type Keyring } from './keyring.ts';

/**
 * Personal columns of the read models (PERSONAL_COLUMNS), sealed on write and opened on read with the call's
 * data keys. The projectors' evolve functions stay pure and do not care whether a value is sealed (call_logs is
 * handed the log's sealed values, recording_downloads opened ones); their write step seals what is plaintext, and
 * every reader opens through openRows, so no route, process or command handles sealed text.
 *
 * - A value is sealed with the call's key for the column's purpose, under the name of the event field the column
 *   copies (PERSONAL_COLUMNS), deterministically: a rebuild writes the same bytes as the live projection. A value
 *   already sealed (copied from the log, or from the row) is written as it is while its key lives.
 * - A destroyed key (erasure, shredding) writes and reads as null.
 * - A value that is not sealed (a tombstone `[erased]`, a row written before sealing) reads as it is.
 */

export type PersonalTable = keyof typeof PERSONAL_COLUMNS;

/** The data keys of a batch's calls, fetched before the batch's transaction (one keyring lookup). */
export type CallKeys = ReadonlyMap<string, KeyState>;

/** A personal data key that cannot open a value sealed under it: the master key or the data was altered. */
export class SealedColumnError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SealedColumnError';
  }
}

/**
 * The keys a projection batch needs, fetched outside its transaction (an embedded database has one connection,
 * which the transaction holds): every call of the batch, and a new key where an event brings personal plaintext
 * for a purpose the call has no key for yet (a call logged before sealing existed). Live keys are unwrapped only
 * when a value is sealed or opened with them.
 */
export async function prepareCallKeys(
  keyring: Keyring,
  events: ReadonlyArray<{ type: string; data: unknown; metadata: { orgId: string } }>,
): Promise<CallKeys> {
  const callIds = [...new Set(events.map((e) => (e.data as { callId: string }).callId))];
  const keys = new Map(await keyring.lookup(callIds));
  for (const e of events) {
    const fields = PERSONAL_EVENT_FIELDS[e.type];
    if (!fields) continue;
    const data = e.data as Record<string, unknown> & { callId: string };
    for (const [field, purpose] of Object.entries(fields)) {
      if (typeof data[field] !== 'string' || isSealed(data[field])) continue;
      const id = keyId(data.callId, purpose);
      if (keys.get(id)?.state !== 'absent') continue;
      const key = await keyring.ensure(data.callId, e.metadata.orgId, purpose);
      keys.set(id, key ? { state: 'live', key } : { state: 'destroyed' });
    }
  }
  return keys;
}

type ColumnSpec = { purpose: KeyPurpose; field: string };
const columnsOf = (table: PersonalTable) => Object.entries(PERSONAL_COLUMNS[table]) as Array<[string, ColumnSpec]>;

/**
 * `row` with its personal columns sealed: plaintext is sealed, a sealed value is kept, and either is null when the
 * call's key for the column was destroyed (nothing could open it). Needs the states of the row's call's keys.
 */
export function sealColumns<R extends Record<string, unknown>>(table: PersonalTable, row: R, callId: string, keys: CallKeys): R {
  const out: Record<string, unknown> = { ...row };
  for (const [column, { purpose, field }] of columnsOf(table)) {
    const value = out[column];
    if (typeof value !== 'string') continue;
    const state = keys.get(keyId(callId, purpose));
    if (isSealed(value)) {
      if (state === undefined) throw new SealedColumnError(`${table}.${column} of call ${callId}: the call's ${purpose} key was not looked up before writing`);
      if (state.state !== 'live') out[column] = null;
      continue;
    }
    if (state === undefined || state.state === 'absent') {
      // Never write plaintext: prepareCallKeys makes a key for every plaintext an event brings.
      throw new SealedColumnError(`${table}.${column} of call ${callId} has personal text and the call has no ${purpose} key`);
    }
    out[column] = state.state === 'live' ? seal(state.key, field, value) : null;
  }
  return out as R;
}

/**
 * One personal value as a reader sees it: opened, null when its key was destroyed, or as stored when not sealed.
 * `field`: the event field it was sealed as (PERSONAL_COLUMNS), which is also the sealing context of the column.
 */
export function openValue(keys: CallKeys, callId: string, purpose: KeyPurpose, field: string, value: unknown): unknown {
  if (!isSealed(value)) return value;
  const state = keys.get(keyId(callId, purpose));
  if (state?.state !== 'live') return null;
  try {
    return open(state.key, field, value);
  } catch (err) {
    throw new SealedColumnError(`${field} of call ${callId} does not open under its data key (is PII_MASTER_KEY the one these rows were written with?)`, { cause: err });
  }
}

/** `row` with its personal columns opened with `keys`. */
export function openColumns<R extends Record<string, unknown>>(table: PersonalTable, row: R, callId: string, keys: CallKeys): R {
  const out: Record<string, unknown> = { ...row };
  for (const [column, { purpose, field }] of columnsOf(table)) {
    if (column in out) out[column] = openValue(keys, callId, purpose, field, out[column]);
  }
  return out as R;
}

/** The personal columns of many rows opened, with one keyring lookup for all their calls. */
export async function openRows<R extends Record<string, unknown>>(keyring: Keyring, table: PersonalTable, rows: readonly R[], callIdOf: (row: R) => string): Promise<R[]> {
  if (rows.length === 0) return [];
  const sealed = rows.some((r) => Object.keys(PERSONAL_COLUMNS[table]).some((c) => isSealed(r[c])));
  if (!sealed) return [...rows];
  const keys = await keyring.lookup([...new Set(rows.map(callIdOf))]);
  return rows.map((r) => openColumns(table, r, callIdOf(r), keys));
}
