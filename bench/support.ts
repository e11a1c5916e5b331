import { connectDatabase, type Database } from '../src/db/connect.ts';
import { migrate } from '../src/db/migrate.ts';
import { createTestDatabase, dropTestDatabase, TEST_DATABASE_URL } from '../test/support/databases.ts';
import pg from 'pg';

export const BENCH_DATABASE_URL = process.env.BENCH_DATABASE_URL || TEST_DATABASE_URL;

export async function postgresAvailable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: BENCH_DATABASE_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

export interface BenchDb {
  kind: 'postgres' | 'pglite';
  database: Database;
  url?: string;
  close(): Promise<void>;
}

export async function openBenchDb(kind: 'postgres' | 'pglite', poolSize = 25): Promise<BenchDb> {
  if (kind === 'pglite') {
    const database = await connectDatabase({ pgliteDir: 'memory://' });
    await migrate(database);
    return { kind, database, close: () => database.close() };
  }
  const url = await createTestDatabase();
  const database = await connectDatabase({ databaseUrl: url, poolSize });
  await migrate(database);
  return {
    kind,
    database,
    url,
    async close() {
      await database.close();
      await dropTestDatabase(url);
    },
  };
}

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function row(label: string, value: string, extra = '') {
  console.log(`  ${label.padEnd(58)} ${value.padStart(14)}  ${extra}`);
}

/** Runs `total` tasks with `concurrency` workers; returns elapsed ms. */
export async function runConcurrent(total: number, concurrency: number, task: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await task(next++);
    }),
  );
  return performance.now() - t0;
}
