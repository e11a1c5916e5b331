import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import type { DB } from '../../src/db/schema.ts';
import pg from 'pg';
import { connectDatabase } from '../../src/db/connect.ts';
import { migrate } from '../../src/db/migrate.ts';
import { backends, createTestDatabase, dropTestDatabase, TEST_DATABASE_URL } from '../support/databases.ts';

// TLS to PostgreSQL the way libpq documents sslmode: `require` encrypts without checking the certificate,
// `verify-full` checks it against DATABASE_CA_CERT (a path or PEM) and the host name. Against the local
// server with ssl = on (scripts/postgres-ssl.sh, run by .ci/run: a self-signed certificate for localhost and
// 127.0.0.1, which is its own CA).

async function serverCertificate(): Promise<string | undefined> {
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await c.connect();
  try {
    if ((await c.query('show ssl')).rows[0].ssl !== 'on') return undefined;
    return (await c.query(`select pg_read_file(current_setting('ssl_cert_file')) as pem`)).rows[0].pem as string;
  } finally {
    await c.end();
  }
}

const withUrl = (url: string, params: string) => `${url}${url.includes('?') ? '&' : '?'}${params}`;

if ((await backends()).some((b) => b.name === 'postgres')) {
  const pem = await serverCertificate();
  if (!pem) {
    if (process.env.CI === 'true') throw new Error('CI=true but the test PostgreSQL has ssl = off (scripts/postgres-ssl.sh turns it on)');
    console.warn('\n!! the test PostgreSQL has ssl = off: the TLS tests are SKIPPED (run scripts/postgres-ssl.sh).\n');
  } else {
    const test = suite<{ url: string; dir: string }>('PostgreSQL over TLS');
    test.before(async (ctx) => {
      ctx.url = await createTestDatabase();
      ctx.dir = mkdtempSync(path.join(tmpdir(), 'callrec-tls-'));
    });
    test.after(async (ctx) => {
      await dropTestDatabase(ctx.url);
      rmSync(ctx.dir, { recursive: true, force: true });
    });

    const sslOfBackend = async (db: Kysely<DB>) =>
      (await sql<{ ssl: boolean }>`select ssl from pg_stat_ssl where pid = pg_backend_pid()`.execute(db)).rows[0]!.ssl;

    test('sslmode=require: encrypted (pg_stat_ssl says so), no certificate check, migrations and queries work', async ({ url }) => {
      const database = await connectDatabase({ databaseUrl: withUrl(url, 'sslmode=require'), poolSize: 2 });
      try {
        await migrate(database);
        assert.is(await sslOfBackend(database.db), true);
        assert.is((await database.db.selectFrom('events').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n, '0');
      } finally {
        await database.close();
      }
    });

    test('sslmode=disable (and no sslmode): plain TCP', async ({ url }) => {
      const database = await connectDatabase({ databaseUrl: withUrl(url, 'sslmode=disable'), poolSize: 2 });
      try {
        assert.is(await sslOfBackend(database.db), false);
      } finally {
        await database.close();
      }
    });

    test('sslmode=verify-full with DATABASE_CA_CERT (PEM or a path) = the server\'s CA passes', async ({ url, dir }) => {
      const file = path.join(dir, 'ca.pem');
      writeFileSync(file, pem);
      for (const caCert of [pem, file]) {
        const database = await connectDatabase({ databaseUrl: withUrl(url, 'sslmode=verify-full'), caCert, poolSize: 2 });
        try {
          await migrate(database);
          assert.is(await sslOfBackend(database.db), true);
        } finally {
          await database.close();
        }
      }
    });

    test('sslmode=verify-full with a wrong CA (or none: the system CAs) fails with a clear error', async ({ url, dir }) => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=not-the-server', '-keyout', path.join(dir, 'other.key'), '-out', path.join(dir, 'other.pem')], { stdio: 'ignore' });
      const wrong = readFileSync(path.join(dir, 'other.pem'), 'utf8');
      for (const caCert of [wrong, undefined]) {
        try {
          const database = await connectDatabase({ databaseUrl: withUrl(url, 'sslmode=verify-full'), caCert, poolSize: 2 });
          await database.close();
          assert.unreachable('connected although the certificate is not signed by the given CA');
        } catch (err) {
          const message = (err as Error).message;
          assert.match(message, /TLS verification of the database server failed/);
          assert.match(message, /DATABASE_CA_CERT/);
        }
      }
    });

    test('an unsupported sslmode or an unreadable CA file is refused by name', async ({ url }) => {
      await connectDatabase({ databaseUrl: withUrl(url, 'sslmode=prefer') }).then(
        () => assert.unreachable('prefer accepted'),
        (err: Error) => assert.match(err.message, /sslmode=prefer .*not supported/),
      );
      await connectDatabase({ databaseUrl: withUrl(url, 'sslmode=verify-full'), caCert: '/nonexistent/ca.pem' }).then(
        () => assert.unreachable('missing CA file accepted'),
        (err: Error) => assert.match(err.message, /DATABASE_CA_CERT: cannot read the CA certificate file \/nonexistent\/ca\.pem/),
      );
    });

    test.run();
  }
}
