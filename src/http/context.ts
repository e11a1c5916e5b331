import type { OrgResolver } from '../commands/orgs.ts';
import type { Config } from '../config.ts';
import type { Database } from '../db/connect.ts';
import type { EventStore } from '../events/port.ts';
import type { Logger } from '../log.ts';
import type { Keyring } from '../privacy/keyring.ts';
import type { RecordingStorage } from '../storage/port.ts';
import type { SseHub } from './sse/hub.ts';
import type { ErasureProcess } from '../processes/erasure.ts';

/** What HTTP routes may use. Routes get their dependencies from here, never from globals. */
export interface HttpDeps {
  config: Config;
  database: Database;
  store: EventStore;
  /** The per-call data keys: read models hold personal columns sealed, routes open them through the queries. */
  keyring: Keyring;
  logger: Logger;
  /** Time source (tests move it). */
  clock: () => Date;
  readiness(): Promise<{ ready: boolean; checks: Record<string, unknown> }>;
  /** Recording storage (signing URLs); absent = recording routes answer 503 storage_unavailable. */
  storage?: RecordingStorage;
  /** The SSE fan-out; absent = GET /api/events answers 503. */
  sseHub?: SseHub;
  /** True while appends cannot be queued (APPEND_QUEUE_MAX reached): webhooks are refused before their body is read. */
  appendQueueFull?: () => boolean;
  /** Org of a call from the Vapi ids (cached org_mappings). */
  orgResolver?: OrgResolver;
  /** Carries out erasures (DELETE /api/calls/:id runs the local steps at once); absent = 503. */
  erasure?: ErasureProcess;
}
