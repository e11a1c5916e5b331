import type { Config } from '../config.ts';
import type { Database } from '../db/connect.ts';
import type { EventStore } from '../events/port.ts';
import type { Logger } from '../log.ts';

/** What HTTP routes may use. Routes get their dependencies from here, never from globals. */
export interface HttpDeps {
  config: Config;
  database: Database;
  store: EventStore;
  logger: Logger;
  /** Time source (tests move it). */
  clock: () => Date;
  readiness(): Promise<{ ready: boolean; checks: Record<string, unknown> }>;
  [extra: string]: unknown;
}
