import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TEST_DATABASE_URL } from './databases.ts';

/**
 * PgBouncer in transaction mode in front of the test PostgreSQL: what Supabase's pooler on port 6543 does
 * to callrec (each transaction may run on another server connection; no LISTEN, no session state, no
 * named prepared statements). CI starts one on 127.0.0.1:6432 (`.ci/run`, through `start` below); a local
 * run uses it when it listens, or starts a private one for the test file when `pgbouncer` is installed.
 * Not installed: the pooler tests are skipped with a loud warning, except under CI=true, where it fails.
 */
export const PGBOUNCER_PORT = Number(process.env.TEST_PGBOUNCER_PORT || 6432);

export function pgbouncerIni(dir: string, port: number, server: URL): string {
  return [
    '[databases]',
    `* = host=${server.hostname} port=${server.port || 5432}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${path.join(dir, 'userlist.txt')}`,
    'pool_mode = transaction',
    'max_client_conn = 1000',
    'default_pool_size = 40',
    'ignore_startup_parameters = extra_float_digits',
    `pidfile = ${path.join(dir, 'pgbouncer.pid')}`,
    `logfile = ${path.join(dir, 'pgbouncer.log')}`,
    '',
  ].join('\n');
}

function pgbouncerBinary(): string | undefined {
  for (const p of ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer']) {
    if (spawnSync(p, ['--version']).status === 0) return p;
  }
  const r = spawnSync('pgbouncer', ['--version']);
  return r.status === 0 ? 'pgbouncer' : undefined;
}

/** Writes the ini and auth file into a fresh directory (owned by `postgres` when run as root: pgbouncer refuses root). */
function prepare(port: number): { dir: string; ini: string; asUser?: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'callrec-pgbouncer-'));
  const server = new URL(TEST_DATABASE_URL);
  writeFileSync(path.join(dir, 'userlist.txt'), `"${decodeURIComponent(server.username || 'postgres')}" ""\n`);
  const ini = path.join(dir, 'pgbouncer.ini');
  writeFileSync(ini, pgbouncerIni(dir, port, server));
  if (process.getuid?.() === 0) {
    const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (id.status !== 0) throw new Error('running as root and there is no postgres user to run pgbouncer as');
    for (const f of ['', 'userlist.txt', 'pgbouncer.ini']) chownSync(path.join(dir, f), Number(id.stdout), Number(gid.stdout));
    return { dir, ini, asUser: 'postgres' };
  }
  return { dir, ini };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.setTimeout(1000);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    s.once('timeout', () => (s.destroy(), resolve(false)));
    s.connect(port, '127.0.0.1');
  });
}

async function waitListening(port: number, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await listening(port)) return;
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`pgbouncer did not start on 127.0.0.1:${port} (see ${logFile})`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface Pooler {
  /** Connection string of `database` (a database of the test server) through the pooler. */
  urlFor(directUrl: string): string;
  stop(): Promise<void>;
}

async function startPgbouncer(port: number, detached: boolean): Promise<{ child: ChildProcess; dir: string }> {
  const bin = pgbouncerBinary();
  if (!bin) throw new Error('pgbouncer is not installed (apt-get install -y pgbouncer)');
  const { dir, ini, asUser } = prepare(port);
  const args = [...(asUser ? ['-u', asUser] : []), ini];
  const child = spawn(bin, args, { stdio: 'ignore', detached });
  child.unref(); // never what keeps a test process alive; stop() ends it
  await waitListening(port, child, path.join(dir, 'pgbouncer.log'));
  return { child, dir };
}

/**
 * The pooler for this test file, or undefined (skipped, warned) when there is none and CI is not set.
 * Uses 127.0.0.1:$TEST_PGBOUNCER_PORT (6432) when something listens there, else starts a private pgbouncer.
 */
export async function transactionPooler(): Promise<Pooler | undefined> {
  const through = (port: number) => (directUrl: string) => {
    const u = new URL(directUrl);
    u.hostname = '127.0.0.1';
    u.port = String(port);
    return u.toString();
  };
  if (await listening(PGBOUNCER_PORT)) return { urlFor: through(PGBOUNCER_PORT), stop: async () => {} };
  if (!pgbouncerBinary()) {
    const message = `pgbouncer is not installed and nothing listens on 127.0.0.1:${PGBOUNCER_PORT}`;
    if (process.env.CI === 'true') throw new Error(`CI=true but ${message}: the transaction-pooler tests cannot run`);
    console.warn(`\n!! ${message}; the transaction-pooler tests are SKIPPED (apt-get install -y pgbouncer).\n`);
    return undefined;
  }
  const port = await freePort();
  const { child, dir } = await startPgbouncer(port, false);
  // If the test process dies, its private pgbouncer goes with it.
  process.once('exit', () => child.exitCode === null && child.kill('SIGTERM'));
  return {
    urlFor: through(port),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// `node --import tsx test/support/pgbouncer.ts start` (used by .ci/run): a pgbouncer on 127.0.0.1:6432 that
// outlives this command, unless one already listens there.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname) && process.argv[2] === 'start') {
  if (await listening(PGBOUNCER_PORT)) {
    console.log(`pgbouncer: something already listens on 127.0.0.1:${PGBOUNCER_PORT}`);
  } else {
    const { dir } = await startPgbouncer(PGBOUNCER_PORT, true);
    console.log(`pgbouncer: transaction mode on 127.0.0.1:${PGBOUNCER_PORT} in front of ${new URL(TEST_DATABASE_URL).host} (config ${dir})`);
  }
  process.exit(0);
}
