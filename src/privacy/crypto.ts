import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/**
 * The cryptography of personal data (pure functions over node:crypto, no I/O).
 *
 * - A call's personal fields are sealed with AES-256-GCM under a per-call data key. Sealing is
 *   deterministic (the IV is an HMAC of field name and plaintext under a key derived from the data key, a
 *   synthetic IV): the same plaintext under the same key gives the same text, so a redelivered webhook is
 *   still recognised as the same event and a rebuild writes byte-identical read models. Different
 *   plaintexts get different IVs, which is what GCM needs.
 * - Data keys are stored wrapped (AES-256-GCM, random IV) under PII_MASTER_KEY, bound to call and purpose.
 * - Search tokens are blinded with an HMAC under a key derived from the master key, so the search index
 *   of a dump reads as hex, not words.
 */

/** How a sealed value starts. Anything else in a personal field is plaintext (written before encryption) or a tombstone. */
export const SEALED_PREFIX = 'pii1:';
/** What an erased or shredded personal field reads as. */
export const ERASED = '[erased]';

const IV_BYTES = 12;
const TAG_BYTES = 16;

export function isSealed(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(SEALED_PREFIX);
}

function subKey(key: Buffer, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `callrec ${label}`, 32));
}

/** Derived keys of one data key, computed once per key (the keyring caches them). */
export interface DataKey {
  enc: Buffer;
  siv: Buffer;
}

const NO_SALT = Buffer.alloc(32);

/**
 * The same two keys as subKey(raw, 'pii enc') and subKey(raw, 'pii siv') (HKDF-SHA256, empty salt, 32 bytes: one
 * expand block), computed with one extract for both: three HMACs instead of two full HKDF runs. Opening a page of
 * events of many calls derives two keys per call, so this is on the path of every rebuild.
 */
export function deriveDataKey(raw: Buffer): DataKey {
  if (raw.length !== 32) throw new Error('a data key is 32 bytes');
  const prk = createHmac('sha256', NO_SALT).update(raw).digest();
  const expand = (label: string) => createHmac('sha256', prk).update(`callrec ${label}`, 'utf8').update(Buffer.from([1])).digest();
  return { enc: expand('pii enc'), siv: expand('pii siv') };
}

/** Seal one field's text. `context` is the field name: it is authenticated, so a value cannot be moved to another field. */
export function seal(key: DataKey, context: string, plaintext: string): string {
  const iv = createHmac('sha256', key.siv).update(context).update('\0').update(plaintext, 'utf8').digest().subarray(0, IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.enc, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return SEALED_PREFIX + Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

/** Open a sealed value; throws when the key or the field does not match or the text was altered. */
export function open(key: DataKey, context: string, sealed: string): string {
  const raw = Buffer.from(sealed.slice(SEALED_PREFIX.length), 'base64url');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new Error('sealed value is truncated');
  const decipher = createDecipheriv('aes-256-gcm', key.enc, raw.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
  return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
}

/**
 * Fresh material for `n` new data keys: each a random 32-byte key and the random IV that wraps it, drawn from the
 * CSPRNG in one call (a webhook batch makes keys for many calls at once, and one call per key and IV was a few
 * percent of ingest).
 */
export function newKeyMaterial(n: number): Array<{ raw: Buffer; wrapIv: Buffer }> {
  const size = 32 + IV_BYTES;
  const all = randomBytes(n * size);
  return Array.from({ length: n }, (_, i) => ({ raw: all.subarray(i * size, i * size + 32), wrapIv: all.subarray(i * size + 32, (i + 1) * size) }));
}

// The key-wrapping key of each master key, derived once (unwrapping a page of keys would otherwise derive it per key).
const wrappingKeys = new WeakMap<Buffer, Buffer>();
function wrappingKey(master: Buffer): Buffer {
  let k = wrappingKeys.get(master);
  if (!k) wrappingKeys.set(master, (k = subKey(master, 'key wrap')));
  return k;
}

/** Wrap a data key under the master key, bound to `aad` (call id and purpose). `iv`: random, never used twice. */
export function wrapKey(master: Buffer, dataKey: Buffer, aad: string, iv: Buffer = randomBytes(IV_BYTES)): Buffer {
  if (iv.length !== IV_BYTES) throw new Error(`a wrapping IV is ${IV_BYTES} bytes`);
  const cipher = createCipheriv('aes-256-gcm', wrappingKey(master), iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(dataKey), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

export function unwrapKey(master: Buffer, wrapped: Buffer, aad: string): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', wrappingKey(master), wrapped.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(wrapped.subarray(wrapped.length - TAG_BYTES));
  return Buffer.concat([decipher.update(wrapped.subarray(IV_BYTES, wrapped.length - TAG_BYTES)), decipher.final()]);
}

/** The key that blinds search tokens (one per deployment, derived from the master key). */
export function searchKey(master: Buffer): Buffer {
  return subKey(master, 'search');
}

/** One blinded search token: 16 hex characters of an HMAC of the normalised word. */
export function blindToken(key: Buffer, word: string): string {
  return createHmac('sha256', key).update(word, 'utf8').digest('hex').slice(0, 16);
}
