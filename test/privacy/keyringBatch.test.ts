import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sql } from 'kysely';
import { createKeyring } from '../../src/privacy/keyring.ts';
import { unwrapKey } from '../../src/privacy/crypto.ts';
import { backends } from '../support/databases.ts';
import { TEST_PII_MASTER_KEY } from '../support/privacy.ts';

// Keys asked for in one turn of the event loop are made together (one INSERT, key material drawn at once).
const BACKENDS = await backends();
for (const backend of BACKENDS) {
  const test = suite(`keyring batch [${backend.name}]`);
  test('keys made together are distinct, each wrapped under its own IV, and each reads back as the key handed out', async () => {
    const t = await backend.open();
    try {
      const master = Buffer.from(TEST_PII_MASTER_KEY, 'base64');
      const keyring = createKeyring(t.database, master);
      const ids = Array.from({ length: 40 }, (_, i) => `batch-${i}`);
      const keys = await Promise.all(ids.flatMap((id) => [keyring.ensure(id, 'org-a', 'call'), keyring.ensure(id, 'org-a', 'transcript')]));
      assert.ok(keys.every((k) => k !== undefined));
      const rows = (await sql<{ call_id: string; purpose: string; wrapped_key: Buffer }>`select call_id, purpose, wrapped_key from ${sql.table('call_keys')}`.execute(t.database.db)).rows;
      assert.is(rows.length, 80);
      const ivs = new Set(rows.map((r) => Buffer.from(r.wrapped_key).subarray(0, 12).toString('hex')));
      assert.is(ivs.size, 80, 'a wrapping IV was used twice');
      const raws = new Set(rows.map((r) => unwrapKey(master, Buffer.from(r.wrapped_key), `call_keys:${r.call_id}:${r.purpose}`).toString('hex')));
      assert.is(raws.size, 80, 'two calls share a data key');
      // A second keyring (another instance, nothing cached) reads the same keys as the ones handed out.
      const other = createKeyring(t.database, master);
      for (const [i, id] of ids.entries()) {
        const state = await other.get(id, 'transcript');
        assert.is(state.state, 'live');
        if (state.state === 'live') assert.ok(state.key.enc.equals(keys[i * 2 + 1]!.enc));
      }
    } finally {
      await t.close();
    }
  });
  test.run();
}
