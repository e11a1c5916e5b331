import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { connectDatabase } from '../../src/db/connect.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPostgresEventStore } from '../../src/events/postgres/store.ts';
import { backends, createTestDatabase, dropTestDatabase } from '../support/databases.ts';
import { transactionPooler } from '../support/pgbouncer.ts';
import { eventStoreContract, restartableStore, type StoreHarness } from './contract.ts';
import { statusEvent } from '../support/events.ts';

// Through a transaction-mode pooler (PgBouncer 1.18 here, Supavisor on Supabase's port 6543) each transaction
// may run on another server connection: the whole event-store contract must hold there, with migrations run
// through the pooler too and subscriptions woken by polling (LISTEN would silently never fire).

const guard = suite('no session state in SQL (what a transaction pooler would break)');
guard('src/ and db/migrations use no session advisory lock, session SET, LISTEN outside the listen client, or named statements', () => {
  const files = [...walk('src'), ...walk('db/migrations')].filter((f) => /\.(ts|sql)$/.test(f));
  const problems: string[] = [];
  for (const f of files) {
    // Code and SQL only: comments may talk about what is forbidden.
    const text = readFileSync(f, 'utf8').replace(/--.*$|\/\/.*$|^\s*\*.*$/gm, '');
    if (/pg_advisory_lock\s*\(|pg_try_advisory_lock\s*\(/i.test(text)) problems.push(`${f}: session advisory lock`);
    // A statement that starts with SET (not SET LOCAL); a function's own `alter routine … set` and the SET
    // clauses of a `create function … language … set x = y … as $$` header are the function's, not the session's.
    const withoutFunctionSettings = text.replace(/(\blanguage\s+\w+\s*\n)((?:\s*set\s+\w+\s*(?:=|to\s)[^\n]*\n)+)(\s*as\s+\$\$)/gi, '$1$3');
    if (/(^|['"`;(]\s*)set\s+(?!local\b)\w+\s*(=|to\s)/im.test(withoutFunctionSettings)) problems.push(`${f}: session SET`);
    if (/\bcreate\s+temp(orary)?\s+table/i.test(text)) problems.push(`${f}: temporary table`);
    if (/\bname\s*:\s*['"`][^'"`]+['"`]\s*,\s*text\s*:/.test(text)) problems.push(`${f}: named prepared statement`);
    if (/['"`]\s*LISTEN\s+(\$\{|"?\w+"?\s*['"`])/i.test(text) && !f.endsWith(path.join('db', 'connect.ts'))) problems.push(`${f}: LISTEN outside the listen client`);
  }
  assert.equal(problems, []);
});
guard.run();

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const postgres = (await backends()).some((b) => b.name === 'postgres');
const pooler = postgres ? await transactionPooler() : undefined;

if (pooler) {
  const facts = suite('through a transaction-mode pooler');
  facts('the pooler really is in transaction mode: consecutive transactions may see other backends; callrec polls', async () => {
    const direct = await createTestDatabase();
    try {
      const database = await connectDatabase({ databaseUrl: pooler.urlFor(direct), pooler: 'transaction', poolSize: 2 });
      try {
        assert.is(database.wakeups, 'poll');
        await migrate(database);
        // Session state does not survive: a session SET is lost or lands on another client's connection.
        const c = new pg.Client({ connectionString: pooler.urlFor(direct) });
        await c.connect();
        try {
          const pids = new Set<number>();
          const others = Array.from({ length: 4 }, () => new pg.Client({ connectionString: pooler.urlFor(direct) }));
          await Promise.all(others.map((o) => o.connect()));
          // Hold server connections busy in other clients' transactions so c's next statement goes elsewhere.
          for (let i = 0; i < 4; i++) {
            pids.add(Number((await c.query('select pg_backend_pid() as pid')).rows[0].pid));
            await others[i]!.query('begin');
            await others[i]!.query('select 1');
          }
          await Promise.all(others.map((o) => o.query('commit').then(() => o.end())));
          assert.ok(pids.size > 1, `one client saw ${pids.size} server backend(s): not transaction pooling`);
        } finally {
          await c.end();
        }
      } finally {
        await database.close();
      }
    } finally {
      await dropTestDatabase(direct);
    }
  });
  facts('DATABASE_LISTEN_URL (direct) carries LISTEN: an append through the pooler by another instance wakes a reader at once', async () => {
    const direct = await createTestDatabase();
    const viaPooler = pooler.urlFor(direct);
    const listening = await connectDatabase({ databaseUrl: viaPooler, pooler: 'transaction', listenUrl: direct, poolSize: 2 });
    const other = await connectDatabase({ databaseUrl: viaPooler, pooler: 'transaction', poolSize: 2 });
    // A poll interval far longer than the wait: only a notification can end the wait early.
    const reader = createPostgresEventStore(listening, { pollMs: 600_000 });
    const writer = createPostgresEventStore(other);
    try {
      assert.is(listening.wakeups, 'listen');
      await migrate(listening);
      await reader.waitForAppend(10_000); // starts LISTEN and returns on its "connected" wake-up
      const woken = reader.waitForAppend(60_000).then(() => 'woken');
      assert.ok((await writer.append('call-listen', [statusEvent('listen', 'queued')])).ok);
      const outcome = await Promise.race([woken, new Promise((r) => setTimeout(() => r('not woken within 15 s'), 15_000))]);
      assert.is(outcome, 'woken');
    } finally {
      await reader.close();
      await writer.close();
      await listening.close();
      await other.close();
      await dropTestDatabase(direct);
    }
  });
  facts.run();

  eventStoreContract('postgres through pgbouncer (transaction mode)', async (): Promise<StoreHarness> => {
    const direct = await createTestDatabase();
    return restartableStore(
      async () => {
        const database = await connectDatabase({ databaseUrl: pooler.urlFor(direct), pooler: 'transaction', poolSize: 10 });
        await migrate(database);
        const store = createPostgresEventStore(database, { pollMs: 200 });
        return {
          store,
          async close() {
            await store.close();
            await database.close();
          },
        };
      },
      () => dropTestDatabase(direct),
    ).then((h) => h);
  }).run();
}

// uvu runs suites as they are registered; stop the private pgbouncer once every suite has finished.
process.once('beforeExit', () => void pooler?.stop());
