import { sql } from 'kysely';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { orgsWithPending, orgsWithPendingQuery, retentionCandidates, retentionCandidatesQuery } from '../../src/projections/callLogs/retentionQueries.ts';
import { backends } from '../support/databases.ts';

// The retention run's reads must cost what expires now, not the size of call_logs: on a large table where
// almost everything already expired, they stay on the partial indexes of migration 013.
for (const backend of await backends()) {
  const test = suite(`retention query plans [${backend.name}]`);

  test('candidate and org queries use the partial indexes on a large call_logs', async () => {
    const t = await backend.open();
    try {
      const { db } = t.database;
      // 60,000 calls of 20 orgs over two years: all but the last ~month already expired (recording and transcript).
      await sql`
        insert into ${sql.table('call_logs')} (id, org_id, status, ended_at, recording_status, recording_storage_path, transcript, transcript_expired_at, recording_expired_at, first_position, last_position)
        select 'c' || g, 'org-' || (g % 20), 'ended', timestamptz '2026-09-01' - make_interval(mins => g * 17),
               case when g < 2500 then 'uploaded' else 'expired' end,
               case when g < 2500 then 'org-' || (g % 20) || '/c' || g || '.wav' end,
               case when g < 2500 then 'text ' || g end,
               case when g >= 2500 then timestamptz '2026-08-01' end,
               case when g >= 2500 then timestamptz '2026-08-01' end,
               g, g
          from generate_series(1, 60000) g`.execute(db);
      await sql`analyze ${sql.table('call_logs')}`.execute(db);
      const plan = async (q: Parameters<typeof sql>[1]) => (await sql<Record<string, string>>`explain ${q}`.execute(db)).rows.map((r) => Object.values(r)[0]).join('\n');

      const cutoff = new Date('2026-08-20T00:00:00Z');
      const recordings = await plan(retentionCandidatesQuery(db, 'recording', 'org-3', cutoff, undefined, 200));
      assert.match(recordings, /call_logs_recording_retention_idx/, recordings);
      assert.not.match(recordings, /Seq Scan/);
      const paged = await plan(retentionCandidatesQuery(db, 'transcript', 'org-3', cutoff, { endedAt: '2026-08-10T00:00:00.000Z', id: 'c100' }, 200));
      assert.match(paged, /call_logs_transcript_retention_idx/, paged);
      assert.not.match(paged, /Seq Scan/);
      const orgs = await plan(orgsWithPendingQuery('recording'));
      assert.match(orgs, /call_logs_recording_retention_idx/, orgs);
      assert.not.match(orgs, /Seq Scan/);

      // And they answer right: 20 orgs still have pending recordings; org-3's due ones are those ended by the cutoff.
      assert.is((await orgsWithPending(db, 'recording')).length, 20);
      const due = await retentionCandidates(db, 'recording', 'org-3', cutoff, undefined, 10_000);
      const expected = await db.selectFrom('call_logs').select((eb) => eb.fn.countAll<string>().as('n')).where('org_id', '=', 'org-3').where('recording_status', '=', 'uploaded').where('ended_at', '<=', cutoff).executeTakeFirstOrThrow();
      assert.is(due.length, Number(expected.n));
      assert.ok(due.length > 0);
      assert.ok(due.every((r) => r.org_id === 'org-3' && Date.parse(r.ended_at!) <= cutoff.getTime()));
    } finally {
      await t.close();
    }
  });

  test.run();
}
