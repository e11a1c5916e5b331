import { createServer, type Server } from 'node:http';
import { join, resolve as resolvePath } from 'node:path';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import type { Config } from './config.ts';
import type { Database } from './db/connect.ts';
import { migrate } from './db/migrate.ts';
import { openDatabase, openEventStore } from './db/open.ts';
import { createOrgResolver, loadOrgMapFile, type OrgResolver } from './commands/orgs.ts';
import type { EventStore } from './events/port.ts';
import { countOrgEventsAfter, readOrgEventsPage } from './events/postgres/readOrgEvents.ts';
import { createHttpApp } from './http/app.ts';
import type { HttpDeps } from './http/context.ts';
import { registerApi } from './http/openapi/registry.ts';
import { createSseHub, type SseHub } from './http/sse/hub.ts';
import type { RecordingStorage } from './storage/port.ts';
import { createStorageFromConfig } from './storage/factory.ts';
import { createRecordingPipeline, type RecordingPipeline } from './processes/recordingPipeline.ts';
import { createLogger, type Logger } from './log.ts';
import { createProjectionRunner, type ProjectionRunner } from './projections/runner.ts';
import { allProjectors } from './projections/all.ts';
import { createCallrecMetrics, instrumentStore, prometheusRoute, type CallrecMetrics } from './metrics/prometheus.ts';
import { observeUrlRejections, urlRejectionCounter } from './metrics/urlRejections.ts';
import { registerMetricsApi } from './http/routes/metrics.ts';
import { registerDashboard } from './http/routes/dashboard.ts';
import { registerDevToken } from './http/routes/devToken.ts';
import { createOrphanSweepProcess, type OrphanSweepProcess } from './processes/orphanSweep.ts';
import { startEmbeddedMaintenance } from './db/maintenance.ts';
import { assertSafeToServe, describeSecurityState } from './secureDefaults.ts';
import { createReconciler, type Reconciler } from './processes/reconciler.ts';
import { createVapiClient } from './vapi/restClient.ts';
import { createHttpDrainer, type HttpDrainer } from './http/drain.ts';
import type { Keyring } from './privacy/keyring.ts';
import { loadMasterKey } from './privacy/masterKey.ts';
import { createRetentionProcess, type RetentionProcess } from './processes/retention.ts';
import { createErasureProcess, type ErasureProcess } from './processes/erasure.ts';

/** Re-exported for callers that open the stores the way the service does. */
export { openDatabase, openEventStore };

export interface ServiceOptions {
  logger?: Logger;
  clock?: () => Date;
  /** Use this database instead of connecting one from the config (tests). */
  database?: Database;
  /** Start HTTP (default true). */
  http?: boolean;
  /** Run projectors and processes in this instance (default true). */
  background?: boolean;
  leaseMs?: number;
  /** Recording storage for the URL routes (tests pass one). */
  storage?: RecordingStorage;
  /** Run the recording pipeline with the background processes (default true; tests that assert on the log turn it off). */
  recordingPipeline?: boolean;
}

export interface Service {
  config: Config;
  database: Database;
  /** The log as every reader sees it: personal fields sealed in storage, opened on read. */
  store: EventStore;
  /** The per-call data keys (call_keys under PII_MASTER_KEY): the store seals the log and the read models their personal columns with them; erasure destroys them. */
  keyring: Keyring;
  runner: ProjectionRunner;
  logger: Logger;
  orgResolver: OrgResolver;
  server?: Server;
  url: string;
  sseHub?: SseHub;
  /** The recording pipeline (started with the service unless background: false; tests drive it with runDue). */
  pipeline: RecordingPipeline;
  storage: RecordingStorage;
  /** Prometheus metrics of this instance (GET /metrics). */
  metrics: CallrecMetrics;
  /** The daily orphan sweep (ORPHAN_SWEEP_CRON, UTC; started with the background processes). */
  sweep: OrphanSweepProcess;
  /** Reconciliation with Vapi's call list (only when VAPI_API_KEY is set; started with the background processes). */
  reconciler?: Reconciler;
  /** The daily retention run (RETENTION_CRON, UTC; started with the background processes). */
  retention: RetentionProcess;
  /** Carries out erasures: keys, tombstones, recording objects, Vapi's copy (started with the background processes). */
  erasure: ErasureProcess;
  stop(): Promise<void>;
}

/** The composition root: database, migrations, event store, projections, processes and HTTP. */
export async function startService(config: Config, opts: ServiceOptions = {}): Promise<Service> {
  // Fail closed before touching anything: no unauthenticated API or webhooks beyond this machine.
  const security = opts.http !== false ? assertSafeToServe(config) : undefined;
  const logger = opts.logger ?? createLogger(config.LOG_LEVEL);
  const clock = opts.clock ?? (() => new Date());
  // PII_MASTER_KEY is required with DATABASE_URL: without it, stop before the database is touched.
  const master = await loadMasterKey(config);
  const database = opts.database ?? (await openDatabase(config));
  await migrate(database);
  if (config.ORG_MAP_FILE) await loadOrgMapFile(database.db, config.ORG_MAP_FILE);
  const metrics = createCallrecMetrics();
  const rawStore = await openEventStore(config, database, logger, { master });
  const store = instrumentStore(rawStore, metrics);
  // One keyring (and one key cache) for the log, the read models and erasure.
  const keyring = rawStore.keyring;
  const projectors = allProjectors(keyring);
  // One lease length for every projector and process of this instance: how soon another takes over.
  const leaseMs = opts.leaseMs ?? config.LEASE_TTL_MS;
  // When call_logs moves in this process, the pipeline looks for new work at once instead of at its next poll.
  let onCallLogs = () => {};
  const runner = createProjectionRunner({
    database,
    store,
    projectors,
    instanceId: config.instanceId,
    logger,
    leaseMs,
    onBatch: (projector, _position, applied) => {
      if (projector === 'call_logs' && applied > 0) onCallLogs();
    },
  });

  if (security && security.mode !== 'secured') logger.warn({ errorCode: 'unauthorized', security: security.mode }, describeSecurityState(security));

  // Recording storage: given (tests) or from the config. With PORT=0 the public URL is known only after listen.
  const recordings = opts.storage
    ? { storage: opts.storage, handler: undefined }
    : await createStorageFromConfig(config, {
        publicBaseUrl: () => (config.PUBLIC_BASE_URL || config.PORT !== 0 || !url ? config.publicBaseUrl : url),
        clock,
      });
  const pipeline = createRecordingPipeline({
    database,
    store,
    storage: recordings.storage,
    config,
    tmpDir: join(resolvePath(config.DATA_DIR), 'tmp'),
    instanceId: config.instanceId,
    clock,
    logger,
    leaseMs,
  });
  onCallLogs = () => pipeline.nudge();
  const sweep = createOrphanSweepProcess({
    db: database.db,
    store,
    storage: recordings.storage,
    cron: config.ORPHAN_SWEEP_CRON,
    minAgeDays: config.ORPHAN_MIN_AGE_DAYS,
    fallbackOrgId: config.DEFAULT_ORG_ID,
    instanceId: config.instanceId,
    clock,
    logger,
    beforeSweep: () => runner.catchUp(),
    onResult: (r) => metrics.recordSweep(r),
  });

  const retention = createRetentionProcess({
    database,
    store,
    storage: recordings.storage,
    keyring,
    defaults: { recordingDays: config.RETENTION_RECORDING_DAYS, transcriptDays: config.RETENTION_TRANSCRIPT_DAYS },
    fallbackOrgId: config.DEFAULT_ORG_ID,
    cron: config.RETENTION_CRON,
    instanceId: config.instanceId,
    clock,
    logger,
    beforeRun: () => runner.catchUp(),
  });

  const orgResolver = createOrgResolver(database.db, config.DEFAULT_ORG_ID);
  const reconciler = config.VAPI_API_KEY
    ? createReconciler({
        db: database.db,
        store,
        vapi: createVapiClient({ baseUrl: config.VAPI_API_URL, apiKey: config.VAPI_API_KEY, logger }),
        orgs: orgResolver,
        fallbackOrgId: config.DEFAULT_ORG_ID,
        stuckMinutes: config.RECONCILE_STUCK_MINUTES,
        intervalSeconds: config.RECONCILE_INTERVAL_SECONDS,
        overlapMinutes: config.RECONCILE_OVERLAP_MINUTES,
        instanceId: config.instanceId,
        leaseMs,
        clock,
        logger,
      })
    : undefined;

  const erasure = createErasureProcess({
    database,
    store,
    storage: recordings.storage,
    keyring,
    vapi: config.VAPI_API_KEY ? createVapiClient({ baseUrl: config.VAPI_API_URL, apiKey: config.VAPI_API_KEY, logger, maxRetries: 2 }) : undefined,
    retry: { delaysMinutes: config.UPLOAD_RETRY_DELAYS_MIN, maxRetries: config.UPLOAD_RETRY_MAX },
    pollSeconds: config.UPLOAD_RETRY_POLL_SECONDS,
    instanceId: config.instanceId,
    clock,
    logger,
    leaseMs,
  });

  const deps: HttpDeps = {
    config,
    database,
    store,
    keyring,
    logger,
    clock,
    async readiness() {
      if (drainer?.draining) return { ready: false, checks: { shuttingDown: true } };
      await sql`select 1`.execute(database.db);
      const head = await store.headPosition();
      const positions = await runner.positions();
      const lag = Object.fromEntries(Object.entries(positions).map(([k, v]) => [k, head - v]));
      const ready = Object.values(lag).every((l) => l <= config.READY_MAX_LAG_EVENTS);
      return { ready, checks: { database: 'ok', head, lag } };
    },
    storage: recordings.storage,
    orgResolver,
    erasure,
    appendQueueFull: () => rawStore.queueFull?.() ?? false,
  };
  // SSE catch-up reads the caller's org through an index when the log is in Postgres/PGlite.
  // No SSE message carries a personal field (messages.ts: ids, statuses, sizes, times), so the hub reads the log
  // as stored: opening every transcript it passes by (it follows the whole log, clients or not) would be
  // decryption thrown away. A sealed field reads as a non-empty string, as its plaintext would.
  const orgEvents =
    store.kind === 'eventstoredb'
      ? undefined
      : {
          page: (orgId: string, after: number, limit: number, callId: string | undefined, omitData: readonly string[]) =>
            readOrgEventsPage(database.db, orgId, after, limit, callId, omitData),
          countAfter: (orgId: string, after: number, cap: number) => countOrgEventsAfter(database.db, orgId, after, cap),
        };
  const sseHub =
    opts.http !== false
      ? createSseHub({ store: rawStore.sealedStore, logger, heartbeatSeconds: config.SSE_HEARTBEAT_SECONDS, orgEvents, maxReplayEvents: config.SSE_MAX_REPLAY_EVENTS })
      : undefined;
  deps.sseHub = sseHub;
  metrics.setSseClientsSource(() => sseHub?.clientCount() ?? 0);
  metrics.setLagSource(async () => {
    const head = await store.headPosition();
    return Object.fromEntries(Object.entries(await runner.positions()).map(([k, v]) => [k, head - v]));
  });

  const background = opts.background ?? config.BACKGROUND_WORK;
  if (background) runner.start();

  let server: Server | undefined;
  let drainer: HttpDrainer | undefined;
  let url = '';
  if (opts.http !== false) {
    await sseHub?.start();
    const countRejection = urlRejectionCounter({ db: database.db, metrics, clock, logger });
    const app = createHttpApp(deps, [registerApi, registerMetricsApi, prometheusRoute(metrics), registerDevToken, registerDashboard], [
      metrics.httpMiddleware(),
      observeUrlRejections(countRejection),
      ...(recordings.handler ? [recordings.handler] : []),
    ]);
    server = createServer(app.callback());
    server.keepAliveTimeout = 65_000;
    // Backstops for senders that stall (the webhook route has its own, tighter WEBHOOK_BODY_TIMEOUT_MS).
    server.headersTimeout = 20_000;
    server.requestTimeout = Math.max(config.WEBHOOK_BODY_TIMEOUT_MS + 5_000, 30_000);
    drainer = createHttpDrainer(server);
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      // A deeper accept backlog than Node's 511, so a burst of connections is queued rather than dropped.
      server!.listen({ port: config.PORT, host: config.HOST, backlog: 4096 }, () => resolve());
    });
    const addr = server.address() as AddressInfo;
    url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${addr.port}`;
    logger.info({ url, database: database.kind, schema: database.schema, wakeups: database.wakeups, store: store.kind }, 'callrec listening');
    if (database.kind === 'postgres' && database.wakeups === 'poll') {
      logger.info('no LISTEN through a transaction-mode pooler: appends of other instances are seen by polling (about 1 s for SSE). DATABASE_LISTEN_URL, a direct connection, gives instant wake-ups');
    }
  }
  if (background && opts.recordingPipeline !== false) pipeline.start();
  if (background) sweep.start();
  if (background) retention.start();
  // PGlite has no autovacuum: keep its statistics and tables as PostgreSQL's would be (no-op on PostgreSQL).
  const maintenance = background ? startEmbeddedMaintenance(database, { headPosition: () => store.headPosition(), logger }) : undefined;
  if (background) reconciler?.start();
  if (background) erasure.start();

  return {
    config,
    database,
    store,
    keyring,
    runner,
    logger,
    orgResolver: deps.orgResolver!,
    server,
    url,
    sseHub,
    pipeline,
    storage: recordings.storage,
    metrics,
    sweep,
    reconciler,
    retention,
    erasure,
    async stop() {
      // /ready turns 503 and the listener closes at once; requests in flight finish (up to
      // SHUTDOWN_GRACE_SECONDS) while SSE streams are ended cleanly and background work stops at its next
      // safe point (each process finishes the step it is in); the store closes only after the last request.
      const background = Promise.all([reconciler?.stop(), maintenance?.stop(), sweep.stop(), retention.stop(), pipeline.stop(), erasure.stop()]);
      if (server && drainer) {
        const { cut, waitedMs } = await drainer.drain(config.SHUTDOWN_GRACE_SECONDS * 1000, async () => {
          await sseHub?.stop();
        });
        if (cut > 0) logger.warn({ cut, errorCode: 'shutting_down' }, `requests still running after SHUTDOWN_GRACE_SECONDS were cut`);
        else logger.info({ waitedMs }, 'every request in flight finished');
      } else {
        await sseHub?.stop();
      }
      await background;
      await runner.stop();
      await store.close();
      if (!opts.database) await database.close();
    },
  };
}
