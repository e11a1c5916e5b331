import type { Database } from '../../src/db/connect.ts';
import { createKeyring, type Keyring } from '../../src/privacy/keyring.ts';
import { TEST_PII_MASTER_KEY } from './privacy.ts';

/** A keyring under the tests' fixed master key, for tests that run projectors on a database they opened themselves. */
export function testKeyring(database: Database): Keyring {
  return createKeyring(database, Buffer.from(TEST_PII_MASTER_KEY, 'base64'));
}
