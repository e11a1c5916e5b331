import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError, type Config } from '../config.ts';

/**
 * PII_MASTER_KEY, as bytes. Every instance sharing a PostgreSQL database must use the same key, so it is
 * required whenever DATABASE_URL is set. With the embedded database (one process, one DATA_DIR) or in
 * explicit local mode (CALLREC_INSECURE_DEV=true), a key is generated once and kept at
 * DATA_DIR/pii-master-key (mode 0600), as the recording signing secret is.
 */
export async function loadMasterKey(config: Pick<Config, 'PII_MASTER_KEY' | 'DATA_DIR' | 'DATABASE_URL' | 'CALLREC_INSECURE_DEV'>): Promise<Buffer> {
  if (config.PII_MASTER_KEY) return Buffer.from(config.PII_MASTER_KEY, 'base64');
  if (config.DATABASE_URL && !config.CALLREC_INSECURE_DEV) {
    throw new ConfigError(['PII_MASTER_KEY: is required when DATABASE_URL is set (32 random bytes in base64: openssl rand -base64 32; the same on every instance)']);
  }
  const file = join(resolve(config.DATA_DIR), 'pii-master-key');
  const read = async () => Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
  try {
    const existing = await read();
    if (existing.length === 32) return existing;
    throw new ConfigError([`PII_MASTER_KEY: ${file} does not hold 32 bytes in base64`]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(resolve(config.DATA_DIR), { recursive: true });
  try {
    await writeFile(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another process wrote it first
  }
  return read();
}
