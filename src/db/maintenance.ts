import { sql } from 'kysely';
import type { Database } from './connect.ts';
import { silentLogger, type Logger } from '../log.ts';

/**
 * Autovacuum for the embedded database. PostgreSQL's autovacuum keeps planner statistics and visibility
 * maps current; PGlite runs no autovacuum, so without this an embedded callrec plans every query with the
 * statistics of its first day (or none) for months, and the rows replaced by upserts (streams, call_logs,
 * checkpoints) stay in the tables and their indexes. Like autovacuum, it runs when the log has grown by a
 * fraction of its size since the last run, so its cost per event stays constant as the log grows.
 * On PostgreSQL it does nothing.
 */
export interface EmbeddedMaintenance {
  /** Runs VACUUM (ANALYZE) now if the log grew enough since the last run (`force`: regardless). */
  runNow(force?: boolean): Promise<boolean>;
  stop(): Promise<void>;
}

export interface EmbeddedMaintenanceOptions {
  /** How often to look at the log's growth (default 60 s). */
  checkEveryMs?: number;
  /** Growth that triggers a run: this fraction of the log plus `minEvents` (defaults 0.1 and 1000). */
  growthFraction?: number;
  minEvents?: number;
  headPosition(): Promise<number>;
  logger?: Logger;
}

export function startEmbeddedMaintenance(database: Database, opts: EmbeddedMaintenanceOptions): EmbeddedMaintenance {
  const logger = opts.logger ?? silentLogger;
  const fraction = opts.growthFraction ?? 0.1;
  const minEvents = opts.minEvents ?? 1000;
  let lastHead = 0;
  let running: Promise<boolean> | undefined;
  let stopped = false;

  async function run(force: boolean): Promise<boolean> {
    if (database.kind !== 'pglite' || stopped) return false;
    const head = await opts.headPosition();
    if (!force && head - lastHead < minEvents + fraction * lastHead) return false;
    const t0 = Date.now();
    await sql`vacuum (analyze)`.execute(database.db);
    lastHead = head;
    logger.info({ head, ms: Date.now() - t0 }, 'embedded database vacuumed and analysed');
    return true;
  }

  function runNow(force = false): Promise<boolean> {
    running ??= run(force).finally(() => {
      running = undefined;
    });
    return running;
  }

  const timer =
    database.kind === 'pglite'
      ? setInterval(() => {
          runNow().catch((err) => logger.warn({ err, errorCode: 'database_unavailable' }, 'embedded maintenance failed; retried at the next check'));
        }, opts.checkEveryMs ?? 60_000)
      : undefined;
  timer?.unref();

  return {
    runNow,
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await running?.catch(() => false);
    },
  };
}
