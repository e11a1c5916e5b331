/**
 * The PII_MASTER_KEY of tests that share a PostgreSQL database between the service, child processes and the
 * CLI (with DATABASE_URL the key is required, and every instance must use the same one). Fixed, so a test's
 * processes agree; never a key for real data.
 */
export const TEST_PII_MASTER_KEY = Buffer.alloc(32, 0x5c).toString('base64');

/** `env` with the test master key added when it names DATABASE_URL and no PII_MASTER_KEY of its own. */
export function withTestMasterKey<T extends Record<string, string | undefined>>(env: T): T & { PII_MASTER_KEY?: string } {
  return env.DATABASE_URL && !('PII_MASTER_KEY' in env) ? { ...env, PII_MASTER_KEY: TEST_PII_MASTER_KEY } : env;
}
