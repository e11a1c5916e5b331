import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import type { EventStore } from '../events/port.ts';
import type { Logger } from '../log.ts';
import type { RecordingStorage } from '../storage/port.ts';
import type { MissingCall, ObjectDecision, SweepEventContext } from '../commands/sweep.ts';

export interface SweepFailure {
  path: string;
  orgId: string;
  code: string;
  message: string;
}

export interface SweepResult {
  sweepId: string;
  day: string;
  dryRun: boolean;
  scanned: number;
  /** Deleted (or, in a dry run, would be deleted). */
  deleted: ObjectDecision[];
  bytesFreed: number;
  keptReferenced: number;
  keptYoung: number;
  /** Orphans whose OrphanDeleted could not be written or whose removal failed: still in storage. */
  failed: SweepFailure[];
  /** Calls flagged (or, in a dry run, that would be flagged) as missing their object; already flagged ones excluded. */
  missing: MissingCall[];
  missingFlagged: number;
  /** Calls whose object could not be checked. */
  missingCheckErrors: number;
  durationMs: number;
  /** False when listing stopped early (`error` says why); what was done up to then stands. */
  complete: boolean;
  error?: { code: string; message: string };
}

export interface OrphanSweepOptions {
  db: Kysely<DB>;
  store: EventStore;
  storage: RecordingStorage;
  minAgeDays: number;
  /** Org of objects whose path does not start with an org id, and of the SweepCompleted summary. */
  fallbackOrgId: string;
  clock?: () => Date;
  logger?: Logger;
  /** Objects per storage listing request and per reference lookup (default 500). */
  pageSize?: number;
  /** Brings call_logs up to the head of the log before deciding (so a fresh upload counts as referenced). */
  beforeSweep?: () => Promise<void>;
  /** Called between pages; returning false aborts the run (the lease was lost). */
  keepGoing?: () => Promise<boolean>;
  /** After each page of the listing: objects scanned and deleted (would be, in a dry run) so far. */
  onProgress?: (progress: { scanned: number; deleted: number }) => void;
  actor?: string;
}

/** What both phases of one run share: its options, event context, log and the result they fill in. */
export interface SweepRun {
  opts: OrphanSweepOptions;
  ctx: SweepEventContext;
  result: SweepResult;
  log: Logger;
  clock: () => Date;
  pageSize: number;
  dryRun: boolean;
  onlyPaths?: ReadonlySet<string>;
}
