import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../support/cli.ts';
import { backends, createTestDatabase, dropTestDatabase } from '../support/databases.ts';
import { freePort, startCallrecProcess } from '../support/processes.ts';

/** PII_MASTER_KEY at start-up, with the real `node` processes an operator starts. */

const test = suite('PII_MASTER_KEY at start-up');

/** `node --import tsx src/main.ts` (what `npm start` runs) until it exits by itself. */
function startAndWaitForExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/main.ts')], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

if ((await backends()).some((b) => b.name === 'postgres')) {
  test('with DATABASE_URL and without PII_MASTER_KEY, the service and the CLI refuse to start, naming it, and touch nothing', async () => {
    const url = await createTestDatabase();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'callrec-pii-'));
    try {
      const service = await startAndWaitForExit({ DATABASE_URL: url, DATA_DIR: dataDir });
      assert.is(service.code, 2, service.output);
      assert.match(service.output, /PII_MASTER_KEY: is required when DATABASE_URL is set/);
      assert.not.match(service.output, /callrec listening/);

      const cli = await runCli(['history', 'some-call'], { DATABASE_URL: url, DATA_DIR: dataDir, PII_MASTER_KEY: undefined });
      assert.is(cli.code, 2, cli.stdout + cli.stderr);
      assert.match(cli.stderr, /PII_MASTER_KEY: is required when DATABASE_URL is set/);

      // Neither created its schema, nor generated a key file to fall back on.
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const schemas = await client.query(`select schema_name from information_schema.schemata where schema_name = 'callrec'`);
        assert.is(schemas.rowCount, 0, 'the database was not touched');
      } finally {
        await client.end();
      }
      assert.is(await stat(path.join(dataDir, 'pii-master-key')).catch(() => undefined), undefined);

      // With the key it starts.
      const proc = await startCallrecProcess({ DATABASE_URL: url, DATA_DIR: dataDir, PII_MASTER_KEY: Buffer.alloc(32, 1).toString('base64') }, await freePort());
      await proc.stop();
    } finally {
      await dropTestDatabase(url);
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}

test('with the embedded database, a key is generated once in DATA_DIR (mode 0600) and kept across restarts', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'callrec-pii-'));
  try {
    const first = await startCallrecProcess({ DATA_DIR: dataDir }, await freePort());
    await first.stop();
    const file = path.join(dataDir, 'pii-master-key');
    const key = await readFile(file, 'utf8');
    assert.is(Buffer.from(key.trim(), 'base64').length, 32);
    assert.is((await stat(file)).mode & 0o777, 0o600);
    const second = await startCallrecProcess({ DATA_DIR: dataDir }, await freePort());
    await second.stop();
    assert.is(await readFile(file, 'utf8'), key, 'the same key after a restart');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();
