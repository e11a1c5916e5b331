import path from 'node:path';
import { Cron } from 'croner';
import { z } from 'zod';
import { SCHEMA_NAME } from './db/schemaPlugin.ts';
import { ORG_ID_RE } from './auth/roles.ts';
import { issuePath } from './zodIssues.ts';

/**
 * Configuration, read and validated once at start. A bad value stops start-up with a message that names
 * the variable. Every variable, its default and meaning is listed in the README.
 */

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const list = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));
const url = z.string().url();
const optionalUrl = z.union([z.literal('').transform(() => undefined), url]).optional();
const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'];
/** The sslmode of a connection string (zod runs refinements even after the URL check failed: no throw here). */
const sslModeOk = (u: string) => {
  try {
    return SSL_MODES.includes(new URL(u).searchParams.get('sslmode') ?? 'disable');
  } catch {
    return true; // not a URL at all: the URL check has said so already
  }
};
const databaseUrl = z
  .union([z.literal('').transform(() => undefined), url.refine(sslModeOk, 'sslmode must be disable, require, verify-ca or verify-full')])
  .optional();

function isCronPattern(pattern: string): boolean {
  try {
    new Cron(pattern, { timezone: 'UTC', paused: true }).stop();
    return true;
  } catch {
    return false;
  }
}

const fields = z
  .object({
    PORT: int(0, 65535).default(3000),
    /** Default: 0.0.0.0 when API and webhook secrets are set, else 127.0.0.1 (see secureDefaults.ts). */
    HOST: z.string().min(1).optional(),
    PUBLIC_BASE_URL: optionalUrl,
    DATA_DIR: z.string().min(1).default('./data'),
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: int(2, 500).default(20),
    DATABASE_SCHEMA: z
      .string()
      .regex(SCHEMA_NAME, 'lower-case letters, digits and _ only, at most 40 characters')
      .refine((s) => s !== 'public' && s !== 'information_schema' && !s.startsWith('pg_'), 'must be a schema of callrec\'s own, not public or a system schema')
      .default('callrec'),
    DATABASE_LISTEN_URL: databaseUrl,
    DATABASE_POOLER: z.enum(['transaction', 'session', 'none']).optional(),
    DATABASE_CA_CERT: z.string().optional(),
    EVENTSTORE_URL: z.union([z.literal('').transform(() => undefined), z.string().regex(/^(esdb|esdb\+discover|kurrentdb|kdb):\/\//, 'must be an esdb:// connection string')]).optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    INSTANCE_ID: z.string().min(1).optional(),

    VAPI_WEBHOOK_SECRET: z.string().optional(),
    VAPI_WEBHOOK_HMAC_SECRET: z.string().optional(),
    VAPI_WEBHOOK_HMAC_TOLERANCE_SECONDS: int(1, 86_400).default(300),
    WEBHOOK_MAX_BODY_BYTES: int(1024, 100 * 1024 * 1024).default(1024 * 1024),
    DEFAULT_ORG_ID: z.string().regex(ORG_ID_RE, 'letters, digits, _ and - only').default('default'),
    ORG_MAP_FILE: z.string().optional(),

    VAPI_API_URL: url.default('https://api.vapi.ai'),
    VAPI_API_KEY: z.string().optional(),
    /** With VAPI_API_KEY: how often one instance reconciles with Vapi's call list. */
    RECONCILE_INTERVAL_SECONDS: int(1, 86_400).default(300),
    /** How far before the watermark each reconcile run starts reading. */
    RECONCILE_OVERLAP_MINUTES: int(0, 7 * 24 * 60).default(60),
    /** A call seen in progress this long without ending is looked up with GET /call/:id. */
    RECONCILE_STUCK_MINUTES: int(1, 7 * 24 * 60).default(120),

    STORAGE: z.enum(['local', 'supabase']).default('local'),
    SUPABASE_URL: optionalUrl,
    SUPABASE_SERVICE_ROLE_KEY: z.string().optional(),
    SUPABASE_BUCKET: z.string().min(1).default('call-recordings'),
    RECORDING_SIGNING_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),

    RECORDING_DOWNLOAD_TIMEOUT_MS: int(100, 3_600_000).default(60_000),
    RECORDING_MAX_BYTES: int(1, 10 * 1024 ** 3).default(500 * 1024 * 1024),
    RECORDING_ALLOWED_HOSTS: list.default(['api.vapi.ai', 'storage.vapi.ai', '*.storage.vapi.ai']),
    RECORDING_ALLOWED_ADDRESSES: list.default([]),
    RECORDING_FORMAT: z.enum(['original', 'mp3']).default('original'),
    RECORDING_MP3_BITRATE_KBPS: int(8, 320).default(32),
    RECORDING_URL_EXPIRY_SECONDS: int(10, 7 * 24 * 3600).default(3600),
    RECORDING_CONCURRENCY: int(1, 256).default(8),

    UPLOAD_RETRY_DELAYS_MIN: z
      .string()
      .regex(/^\s*\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*\s*$/, 'must be a comma-separated list of minutes, e.g. 5,10,20,40')
      .transform((s) => s.split(',').map(Number))
      .default([5, 10, 20, 40]),
    UPLOAD_RETRY_MAX: int(0, 100).default(3),
    UPLOAD_RETRY_POLL_SECONDS: int(1, 86_400).default(300),

    ORPHAN_SWEEP_CRON: z.string().min(1).refine(isCronPattern, 'is not a cron pattern (e.g. "0 2 * * *": daily at 02:00 UTC)').default('0 2 * * *'),
    ORPHAN_MIN_AGE_DAYS: z.coerce.number().nonnegative().default(7),

    AUTH_JWT_SECRET: z.string().optional(),
    AUTH_JWKS_URL: optionalUrl,
    AUTH_AUDIENCE: z.string().optional(),
    AUTH_ISSUER: z.string().optional(),
    AUTH_ORG_CLAIM: z.string().default('org_id'),
    AUTH_ROLE_CLAIM: z.string().default('role'),
    TRUST_PROXY: bool.default(false),

    READY_MAX_LAG_EVENTS: int(0).default(1000),
    LEASE_TTL_MS: int(500, 600_000).default(10_000),
    /** false: this instance only serves HTTP (webhooks, API, SSE); projections and processes run elsewhere. */
    BACKGROUND_WORK: bool.default(true),
    /** When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`; unset = open. */
    METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    SSE_HEARTBEAT_SECONDS: int(1, 3600).default(15),
    /** true: serve without API/webhook secrets on any address (never in production; see secureDefaults.ts). */
    CALLREC_INSECURE_DEV: bool.default(false),
    /** A resume from further behind than this many events gets a `reset` (refetch) instead of a replay. */
    SSE_MAX_REPLAY_EVENTS: int(1, 10_000_000).default(10_000),

    /** SIGTERM: how long requests in flight may take to finish before their connections are cut. */
    SHUTDOWN_GRACE_SECONDS: int(0, 3600).default(25),
    /** Longest wait for the database (connect, free connection, statement, queued append) before a 503. */
    DATABASE_STATEMENT_TIMEOUT_MS: int(100, 600_000).default(5000),
    /** A webhook body not fully received after this gets 408 and its connection closed. */
    WEBHOOK_BODY_TIMEOUT_MS: int(100, 600_000).default(10_000),
    /** Appends waiting for the group commit; beyond this, webhooks get 503 with Retry-After at once. */
    APPEND_QUEUE_MAX: int(1, 1_000_000).default(2000),

    /**
     * 32 random bytes, base64: wraps the per-call keys that encrypt personal data. Required with DATABASE_URL
     * (every instance must share it); with embedded PGlite or CALLREC_INSECURE_DEV one is generated and kept
     * at DATA_DIR/pii-master-key (see src/privacy/masterKey.ts).
     */
    PII_MASTER_KEY: z
      .string()
      .refine((s) => /^[A-Za-z0-9+/_-]+={0,2}$/.test(s) && Buffer.from(s, 'base64').length === 32, 'must be 32 random bytes in base64 (openssl rand -base64 32)')
      .optional(),
    /** Days a recording is kept after its call ended (unset = forever); `callrec orgs retention` overrides per org. */
    RETENTION_RECORDING_DAYS: int(1, 100_000).optional(),
    /** Days a transcript and summary are kept after the call ended (unset = forever); overridable per org. */
    RETENTION_TRANSCRIPT_DAYS: int(1, 100_000).optional(),
    /** When the retention process runs (UTC; one instance by lease). */
    RETENTION_CRON: z.string().min(1).refine(isCronPattern, 'is not a cron pattern (e.g. "30 3 * * *": daily at 03:30 UTC)').default('30 3 * * *'),
  });

/** Every variable the configuration reads (the .env.example and the README list them all). */
export const CONFIG_KEYS: readonly string[] = Object.keys(fields.shape);

const schema = fields.superRefine((c, ctx) => {
    if (c.STORAGE === 'supabase') {
      if (!c.SUPABASE_URL) ctx.addIssue({ code: 'custom', path: ['SUPABASE_URL'], message: 'is required when STORAGE=supabase' });
      if (!c.SUPABASE_SERVICE_ROLE_KEY) ctx.addIssue({ code: 'custom', path: ['SUPABASE_SERVICE_ROLE_KEY'], message: 'is required when STORAGE=supabase' });
    }
  });

export type RawConfig = z.infer<typeof schema>;

export interface Config extends Omit<RawConfig, 'HOST'> {
  /** The listen address: HOST, or 127.0.0.1 unless both API and webhook secrets are set (then 0.0.0.0). */
  HOST: string;
  /** Where recordings live when STORAGE=local. */
  recordingsDir: string;
  /** PGlite data directory when no DATABASE_URL is set. */
  pgliteDir: string;
  publicBaseUrl: string;
  instanceId: string;
  /** True when AUTH_JWT_SECRET was not set and a development secret is used. */
  devAuth: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * One configuration problem as `VARIABLE: rule`. Never the value: it may be a secret (a short
 * RECORDING_SIGNING_SECRET, METRICS_TOKEN, a DATABASE_URL with its password).
 */
export function describeIssue(issue: z.core.$ZodIssue): string {
  const name = issuePath(issue, { root: '(config)' });
  const i = issue as z.core.$ZodIssue & { origin?: string; minimum?: number | bigint; maximum?: number | bigint; expected?: string; values?: unknown[] };
  let rule: string;
  switch (i.code) {
    case 'too_small':
      rule = i.origin === 'string' ? `must be at least ${i.minimum} characters` : `must be at least ${i.minimum}`;
      break;
    case 'too_big':
      rule = i.origin === 'string' ? `must be at most ${i.maximum} characters` : `must be at most ${i.maximum}`;
      break;
    case 'invalid_type':
      rule = i.expected === 'int' || i.expected === 'number' ? 'must be a number' : `must be a ${i.expected}`;
      break;
    case 'invalid_value':
      rule = `must be one of ${(i.values ?? []).map(String).join(', ')}`;
      break;
    case 'invalid_union': {
      // optionalUrl / EVENTSTORE_URL: '' or a value; the last branch says what the value must be.
      const branches = (issue as { errors?: z.core.$ZodIssue[][] }).errors ?? [];
      const last = branches[branches.length - 1]?.[0];
      rule = last ? describeIssue({ ...last, path: [] }).replace(/^\(config\): /, '') : 'is not valid';
      break;
    }
    case 'invalid_format':
      rule = (i as { format?: string }).format === 'url' ? 'must be a URL' : i.message;
      break;
    default:
      // Our own rules (regex, refine, custom) carry our own words; zod's defaults name the format only.
      rule = i.message;
  }
  return `${name}: ${rule}`;
}

/** The development JWT secret used when AUTH_JWT_SECRET is not set (local use only; logged as a warning). */
export const DEV_JWT_SECRET = 'callrec-local-development-secret-change-me';

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(fields.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') input[key] = v;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map(describeIssue));
  const c = parsed.data;
  const dataDir = path.resolve(c.DATA_DIR);
  const secured = Boolean((c.AUTH_JWT_SECRET || c.AUTH_JWKS_URL) && (c.VAPI_WEBHOOK_SECRET || c.VAPI_WEBHOOK_HMAC_SECRET));
  return {
    ...c,
    HOST: c.HOST ?? (secured ? '0.0.0.0' : '127.0.0.1'),
    recordingsDir: path.join(dataDir, 'recordings'),
    pgliteDir: path.join(dataDir, 'pg'),
    publicBaseUrl: (c.PUBLIC_BASE_URL ?? `http://localhost:${c.PORT}`).replace(/\/$/, ''),
    instanceId: c.INSTANCE_ID ?? `${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    devAuth: !c.AUTH_JWT_SECRET && !c.AUTH_JWKS_URL,
    AUTH_JWT_SECRET: c.AUTH_JWT_SECRET ?? (c.AUTH_JWKS_URL ? undefined : DEV_JWT_SECRET),
  };
}
