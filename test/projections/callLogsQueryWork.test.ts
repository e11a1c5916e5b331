import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { DB } from '../../src/db/schema.ts';
import { createKeyring } from '../../src/privacy/keyring.ts';
import { listCalls, pipelineCandidates, type CallListFilter, type Cursor } from '../../src/projections/callLogs/queries.ts';
import { backends } from '../support/databases.ts';
import { measureWork } from '../support/work.ts';

// The queries of call_logs that run all day must cost what they return, not what the table holds.
//
// One page of GET /api/calls must cost the same whatever the size of the org's list: the first page, every
// filter the API has, and a cursor deep in the list. Timing cannot tell that apart on a busy machine, so this
// counts work: table and index blocks touched by the real query (listCalls, as the route runs it), from the
// statistics counters of the current transaction, on an org of 2,000 calls and again after it has 20,000.

const YOUNG = 2_000;
const GROWN = Number(process.env.CALL_LIST_WORK_GROW_TO || 20_000);

/** Calls n in [from, to) of org-w (and as many in org-x, which no page may read): a realistic mix of values. */
async function addCalls(db: Kysely<DB>, from: number, to: number) {
  await sql`
    insert into ${sql.table('call_logs')} (id, org_id, call_type, assistant_id, status, ended_at, ended_reason, recording_status, summary, first_position, last_position)
    select 'c-' || o || '-' || lpad(g::text, 7, '0'), o,
           case when g % 3 = 0 then 'outboundPhoneCall' else 'inboundPhoneCall' end,
           'a' || (g % 7),
           'ended',
           timestamptz '2026-01-01' + g * interval '1 minute',
           case when g % 7 = 0 then 'silence-timed-out' else 'customer-ended-call' end,
           case when g % 11 = 0 then 'none' else 'uploaded' end,
           'Moved the appointment.', g, g
      from generate_series(${from}::int, ${to - 1}::int) g, (values ('org-w'), ('org-x')) v(o)`.execute(db);
  await sql`analyze ${sql.table('call_logs')}`.execute(db);
}

/**
 * What does not grow with the history: 60 calls in progress (no end yet, so last in the list's order) and 60
 * calls of an assistant retired long ago (the oldest calls). A filter for either must not walk the whole list.
 */
async function addFewCalls(db: Kysely<DB>) {
  await sql`
    insert into ${sql.table('call_logs')} (id, org_id, call_type, assistant_id, status, ended_at, ended_reason, recording_status, first_position, last_position)
    select 'live-' || o || '-' || g, o, 'inboundPhoneCall', 'a1', 'in-progress', null, null, 'pending', g, g
      from generate_series(1, 60) g, (values ('org-w'), ('org-x')) v(o)
    union all
    select 'old-' || o || '-' || g, o, 'inboundPhoneCall', 'a-retired', 'ended', timestamptz '2025-01-01' + g * interval '1 minute', 'customer-ended-call', 'uploaded', g, g
      from generate_series(1, 60) g, (values ('org-w'), ('org-x')) v(o)`.execute(db);
}

type Page = { name: string; filter: (cursor?: Cursor) => CallListFilter & { cursorValue?: Cursor } };

const PAGES: Page[] = [
  { name: 'first page', filter: () => ({ limit: 50 }) },
  { name: 'status', filter: () => ({ limit: 50, status: ['in-progress'] }) },
  { name: 'has_recording', filter: () => ({ limit: 50, has_recording: false }) },
  { name: 'recording_status', filter: () => ({ limit: 50, recording_status: ['none'] }) },
  { name: 'ended_reason + call_type + recording', filter: () => ({ limit: 50, ended_reason: 'silence-timed-out', call_type: 'outboundPhoneCall', has_recording: true }) },
  { name: 'assistant_id', filter: () => ({ limit: 50, assistant_id: 'a3' }) },
  { name: 'assistant_id of the oldest calls', filter: () => ({ limit: 50, assistant_id: 'a-retired' }) },
  { name: 'call_type, a cursor deep in the list', filter: (cursor) => ({ limit: 50, call_type: 'outboundPhoneCall', cursorValue: cursor }) },
];

for (const backend of await backends()) {
  const test = suite(`call_logs query work as calls accumulate, one connection [${backend.name}]`);

  test(`a page costs as many blocks at ${GROWN.toLocaleString('en-US')} calls as at ${YOUNG.toLocaleString('en-US')}`, async () => {
    const t = await backend.open();
    try {
      const keyring = createKeyring(t.database, randomBytes(32));
      await t.database.db.connection().execute(async (conn) => {
        /** Blocks one page takes, in its own transaction; the deep cursor is the one 90% down the list. */
        const work = async (p: Page, calls: number) => {
          let cursor: Cursor | undefined;
          if (p.name.includes('cursor')) {
            const target = Math.floor((calls / 3) * 0.9);
            const deep = await sql<{ e: string; id: string }>`select ended_at::text as e, id from ${sql.table('call_logs')}
              where org_id = 'org-w' and call_type = 'outboundPhoneCall' order by ended_at desc nulls last, id desc offset ${target} limit 1`.execute(conn);
            cursor = { e: deep.rows[0]!.e, i: deep.rows[0]!.id };
          }
          const { work: w, result: page } = await measureWork(conn, () => listCalls(conn, keyring, 'org-w', p.filter(cursor)));
          // A page that comes back short would cost less for the wrong reason.
          assert.is(page.rows.length, 50, `${p.name}: a full page`);
          assert.ok(page.rows.every((r) => r.org_id === 'org-w'));
          return w.blocks;
        };
        await addFewCalls(conn);
        await addCalls(conn, 0, YOUNG);
        const young = new Map<string, number>();
        for (const p of PAGES) {
          await work(p, YOUNG); // plans and caches settle
          young.set(p.name, await work(p, YOUNG));
        }
        await addCalls(conn, YOUNG, GROWN);
        for (const p of PAGES) {
          await work(p, GROWN);
          const old = await work(p, GROWN);
          const y = young.get(p.name)!;
          const msg = `${p.name}: ${y} blocks at ${YOUNG} calls, ${old} at ${GROWN}`;
          console.log(`  [${backend.name}] ${msg}`);
          // Index descents grow with log2 of the size (a few blocks); a walk of the org's calls grows tenfold.
          assert.ok(old <= y * 1.5 + 30, msg);
        }
      });
    } finally {
      await t.close();
    }
  });

  test('the pipeline\'s to-do query reads its candidates, not the calls with nothing to do', async () => {
    const t = await backend.open();
    try {
      // Calls with pipeline work (a recording to fetch), and calls in the same states without any: status-only
      // calls (pending, no recording URL) and transcript-only calls already handled (none, with a reason).
      const add = (db: Kysely<DB>, prefix: string, n: number, status: string, url: string | null, error: string | null) => sql`
        insert into ${sql.table('call_logs')} (id, org_id, status, recording_status, recording_source_url, recording_error, first_position, last_position)
        select ${prefix}::text || g, 'org-w', 'ended', ${status}, ${url}, ${error}, g, g from generate_series(1, ${n}::int) g`.execute(db);
      await add(t.database.db, 'todo-', 40, 'pending', 'pii1:sealed-url', null);
      await add(t.database.db, 'status-only-', 100, 'pending', null, null);
      await add(t.database.db, 'handled-', 100, 'none', null, 'no_recording');
      await sql`analyze ${sql.table('call_logs')}`.execute(t.database.db);
      await t.database.db.connection().execute(async (conn) => {
        const work = async () => {
          const { work: w, result: todo } = await measureWork(conn, () => pipelineCandidates(conn, new Date(), 20));
          assert.is(todo.length, 20);
          assert.ok(todo.every((c) => c.id.startsWith('todo-')));
          return w.blocks;
        };
        await work();
        const young = await work();
        await add(conn, 'status-only-more-', 20_000, 'pending', null, null);
        await add(conn, 'handled-more-', 20_000, 'none', null, 'no_recording');
        await sql`analyze ${sql.table('call_logs')}`.execute(conn);
        await work();
        const old = await work();
        const msg = `pipeline to-do: ${young} blocks beside 200 calls without work, ${old} beside 40,200`;
        console.log(`  [${backend.name}] ${msg}`);
        assert.ok(old <= young * 1.5 + 30, msg);
      });
    } finally {
      await t.close();
    }
  });

  test.run();
}
