import type { Database } from '../db/connect.ts';
import type { EventStore } from '../events/port.ts';
import { silentLogger, type Logger } from '../log.ts';
import { moveCheckpoint, readCheckpoint } from './checkpoints.ts';
import { leaseKeeper } from '../db/leases.ts';
import type { Projector } from './projector.ts';
import { readProjectorPage } from './readPage.ts';

export interface RunnerOptions {
  database: Database;
  store: EventStore;
  projectors: Projector[];
  instanceId: string;
  logger?: Logger;
  batchSize?: number;
  leaseMs?: number;
  idleWaitMs?: number;
  onBatch?: (projector: string, position: number, applied: number) => void;
}

export interface ProjectionRunner {
  start(): void;
  stop(): Promise<void>;
  /** Applies everything up to the current head for every projector (used by tests, CLI and rebuilds). */
  catchUp(): Promise<void>;
  /** Checkpoint of each projector. */
  positions(): Promise<Record<string, number>>;
}

class LostRace extends Error {}

/**
 * Runs projectors: read a page of the log after the checkpoint, apply the handled events and move the
 * checkpoint by compare-and-set in one transaction. Exactly-once effect on the read model, replayable from
 * zero. One instance per projector at a time (lease); a lost compare-and-set just reloads the checkpoint.
 */
export function createProjectionRunner(opts: RunnerOptions): ProjectionRunner {
  const { database, store, projectors, instanceId } = opts;
  const { db } = database;
  const logger = opts.logger ?? silentLogger;
  const batchSize = opts.batchSize ?? 1000;
  const leaseMs = opts.leaseMs ?? 10_000;
  const idleWaitMs = opts.idleWaitMs ?? 250;
  let running = false;
  const loops: Promise<void>[] = [];
  const cached = new Map<string, number>();

  /** Applies one page; true when more of the log waits to be read now (the page stopped short of the head). */
  async function step(p: Projector): Promise<boolean> {
    const from = cached.get(p.name) ?? (await readCheckpoint(db, p.name));
    cached.set(p.name, from);
    const page = await readProjectorPage(store, from, batchSize, p);
    if (page.last <= from) return false;
    const to = page.last;
    const handled = page.handled;
    try {
      const prepared = handled.length > 0 ? await p.prepare?.(handled) : undefined;
      await db.transaction().execute(async (trx) => {
        if (!(await moveCheckpoint(trx, p.name, from, to))) throw new LostRace();
        if (handled.length > 0) await p.apply(trx, handled, prepared);
      });
    } catch (err) {
      cached.delete(p.name);
      if (err instanceof LostRace) return false;
      throw err;
    }
    cached.set(p.name, to);
    opts.onBatch?.(p.name, to, handled.length);
    return !page.atHead;
  }

  async function loop(p: Projector) {
    const lease = leaseKeeper(db, `projection:${p.name}`, instanceId, leaseMs);
    let failures = 0;
    while (running) {
      try {
        if (!(await lease.hold())) {
          cached.delete(p.name);
          await sleep(Math.min(1000, leaseMs / 3));
          continue;
        }
        const more = await step(p);
        failures = 0;
        if (!more) await store.waitForAppend(idleWaitMs);
      } catch (err) {
        failures += 1;
        logger.error({ err, projector: p.name, errorCode: 'database_unavailable' }, 'projection batch failed; retrying');
        await sleep(Math.min(30_000, 200 * 2 ** Math.min(failures, 8)));
      }
    }
    await lease.release();
  }

  return {
    start() {
      if (running) return;
      running = true;
      for (const p of projectors) loops.push(loop(p));
    },
    async stop() {
      running = false;
      await Promise.all(loops.splice(0));
    },
    async catchUp() {
      for (const p of projectors) {
        const head = await store.headPosition();
        for (;;) {
          const pos = cached.get(p.name) ?? (await readCheckpoint(db, p.name));
          if (pos >= head) break;
          await step(p);
        }
      }
    },
    async positions() {
      const out: Record<string, number> = {};
      for (const p of projectors) out[p.name] = await readCheckpoint(db, p.name);
      return out;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
