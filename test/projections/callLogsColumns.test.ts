import { sql } from 'kysely';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CALL_LOG_COLUMNS, CALL_LOG_SPEC, emptyCallLog } from '../../src/projections/callLogs/columns.ts';
import { COUNTER_COLUMNS, DAILY_COUNTER_SPEC } from '../../src/projections/metrics/evolve.ts';
import { schemaOf } from '../../src/db/schemaPlugin.ts';
import { backends } from '../support/databases.ts';

// The column spec of call_logs is the one place its columns are written in TypeScript (row type, kysely
// table type, column list and empty row derive from it); the migration creates the table. They must agree.

for (const backend of await backends()) {
  test(`${backend.name}: the call_logs column spec and the metrics counter spec match the migrated tables (names, types, nullability)`, async () => {
    const t = await backend.open();
    try {
      const { rows } = await sql<{ column_name: string; data_type: string; is_nullable: string }>`
        select column_name, data_type, is_nullable from information_schema.columns
         where table_name = 'call_logs' and table_schema = ${schemaOf(t.database.db)}
         order by ordinal_position`.execute(t.database.db);
      const inTable = rows.filter((r) => r.column_name !== 'search');
      const fromSpec = CALL_LOG_COLUMNS.map((c) => {
        const spec: { type: string; notNull?: true } = CALL_LOG_SPEC[c];
        return { column_name: c, data_type: spec.type === 'timestamptz' ? 'timestamp with time zone' : spec.type, is_nullable: spec.notNull ? 'NO' : 'YES' };
      });
      assert.equal(inTable, fromSpec);
      assert.ok(rows.some((r) => r.column_name === 'search'), 'the projector-owned search column exists');

      const daily = await sql<{ column_name: string; data_type: string }>`
        select column_name, data_type from information_schema.columns
         where table_name = 'recording_metrics_daily' and table_schema = ${schemaOf(t.database.db)}
         order by ordinal_position`.execute(t.database.db);
      const counters = daily.rows.filter((r) => !['org_id', 'day', 'failures_by_reason'].includes(r.column_name));
      assert.equal(counters, COUNTER_COLUMNS.map((c) => ({ column_name: c, data_type: DAILY_COUNTER_SPEC[c] })));
    } finally {
      await t.close();
    }
  });
}

test('the empty row has every column of the spec, with the ids and positions given', () => {
  const row = emptyCallLog('call-1', 'org-a', 7);
  assert.equal(Object.keys(row).sort(), [...CALL_LOG_COLUMNS].sort());
  assert.is(row.id, 'call-1');
  assert.is(row.org_id, 'org-a');
  assert.is(row.first_position, 7);
  assert.is(row.last_position, 7);
  assert.is(row.status, 'unknown');
  assert.is(row.recording_status, 'pending');
  assert.is(row.recording_attempts, 0);
});

test.run();
