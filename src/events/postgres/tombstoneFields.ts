import { sql } from 'kysely';
import type { Database } from '../../db/connect.ts';
import { ERASED, SEALED_PREFIX } from '../../privacy/crypto.ts';
import type { KeyPurpose } from '../../privacy/keyring.ts';
import { PERSONAL_EVENT_FIELDS, personalFields } from '../../privacy/fields.ts';

/**
 * The one audited exception to append-only: events written before personal data was encrypted hold it in
 * plaintext, and destroying a key cannot erase those. This rewrites such fields of one stream to the
 * tombstone `[erased]` in place. Sealed values (their key is destroyed instead), nulls and tombstones are left
 * as they are, so running it again changes nothing. The caller records it (CallErased, TranscriptExpired).
 * Field names come from PERSONAL_EVENT_FIELDS and are passed as parameters. Returns how many events changed.
 */
export async function tombstonePlaintextFields(database: Database, streamId: string, purposes: readonly KeyPurpose[]): Promise<number> {
  let changed = 0;
  for (const type of Object.keys(PERSONAL_EVENT_FIELDS)) {
    const fields = personalFields(type, purposes);
    if (fields.length === 0) continue;
    // A field is plaintext when it is a string that is neither sealed nor already the tombstone.
    const plaintext = (f: string) =>
      sql`(jsonb_typeof(data -> ${f}::text) = 'string' and left(data ->> ${f}::text, ${SEALED_PREFIX.length}) <> ${SEALED_PREFIX} and data ->> ${f}::text <> ${ERASED})`;
    const patch = sql.join(
      fields.map((f) => sql`jsonb_build_object(${f}::text, case when ${plaintext(f)} then to_jsonb(${ERASED}::text) else data -> ${f}::text end)`),
      sql` || `,
    );
    const res = await sql`
      update ${sql.table('events')}
         set data = data || ${patch}
       where stream_id = ${streamId}
         and type = ${type}
         and (${sql.join(fields.map(plaintext), sql` or `)})`.execute(database.db);
    changed += Number(res.numAffectedRows ?? 0);
  }
  return changed;
}
