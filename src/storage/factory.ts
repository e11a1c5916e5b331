import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Middleware } from 'koa';
import type { Config } from '../config.ts';
import { createLocalStorage, type LocalRecordingStorage } from './local.ts';
import { createLocalRecordingHandler } from './localRoute.ts';
import type { RecordingStorage } from './port.ts';
import { createSupabaseStorage } from './supabase.ts';

/**
 * Recording storage as the configuration asks: local disk (HMAC-signed URLs served by this app) or Supabase.
 * The local signing secret is RECORDING_SIGNING_SECRET or, when unset, a random one generated once and kept
 * at DATA_DIR/signing-secret (mode 0600) so URLs stay valid across restarts.
 */

export type StorageConfig = Pick<
  Config,
  'STORAGE' | 'DATA_DIR' | 'RECORDING_SIGNING_SECRET' | 'SUPABASE_URL' | 'SUPABASE_SERVICE_ROLE_KEY' | 'SUPABASE_BUCKET' | 'recordingsDir'
>;

export async function loadSigningSecret(config: Pick<Config, 'RECORDING_SIGNING_SECRET' | 'DATA_DIR'>): Promise<string> {
  if (config.RECORDING_SIGNING_SECRET) return config.RECORDING_SIGNING_SECRET;
  const file = join(resolve(config.DATA_DIR), 'signing-secret');
  const read = async () => (await readFile(file, 'utf8')).trim();
  try {
    const existing = await read();
    if (existing.length >= 16) return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dirname(file), { recursive: true });
  const secret = randomBytes(32).toString('hex');
  try {
    await writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return read(); // another instance wrote it first
    throw err;
  }
}

export interface ConfiguredStorage {
  storage: RecordingStorage;
  /** koa middleware serving signed local URLs (local storage only); mount before the routes */
  handler?: Middleware;
}

/**
 * `publicBaseUrl` may be a function: it is then asked on first use (the service knows its port only after
 * listening when PORT=0).
 */
export async function createStorageFromConfig(
  config: StorageConfig,
  opts: { publicBaseUrl: string | (() => string); clock?: () => Date },
): Promise<ConfiguredStorage> {
  if (config.STORAGE === 'supabase') {
    return {
      storage: createSupabaseStorage({
        url: config.SUPABASE_URL!,
        serviceRoleKey: config.SUPABASE_SERVICE_ROLE_KEY!,
        bucket: config.SUPABASE_BUCKET,
        clock: opts.clock,
      }),
    };
  }
  const signingSecret = await loadSigningSecret(config);
  const base = opts.publicBaseUrl;
  const make = (publicBaseUrl: string) => createLocalStorage({ root: config.recordingsDir, publicBaseUrl, signingSecret, clock: opts.clock });
  let storage: LocalRecordingStorage;
  if (typeof base === 'string') storage = make(base);
  else {
    let inner: LocalRecordingStorage | undefined;
    const get = () => (inner ??= make(base()));
    storage = {
      kind: 'local',
      root: config.recordingsDir,
      put: (path, file, o) => get().put(path, file, o),
      stat: (path) => get().stat(path),
      createSignedUrl: (path, seconds) => get().createSignedUrl(path, seconds),
      list: (prefix, o) => get().list(prefix, o),
      remove: (paths) => get().remove(paths),
    };
  }
  const handler = createLocalRecordingHandler({ storage, signingSecret, clock: opts.clock });
  return { storage, handler };
}
