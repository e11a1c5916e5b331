import { loadConfig, type Config } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';
import { startService, type Service, type ServiceOptions } from '../../src/service.ts';
import type { TestBackend } from './databases.ts';
import { TEST_PII_MASTER_KEY } from './privacy.ts';

export interface TestService extends Service {
  /** POST JSON to the service. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

/**
 * Starts a real callrec on 127.0.0.1 with an ephemeral port on a fresh database of `backend`. The recording
 * pipeline is off unless `opts.recordingPipeline` is true (it would fetch the fixtures' recording URLs and append
 * events); test/pipeline starts its own services with it on.
 */
export async function startTestService(backend: TestBackend, env: Record<string, string> = {}, opts: ServiceOptions = {}): Promise<TestService> {
  const t = await backend.open();
  // The tests' master key, the one the CLI and child processes get on the same PostgreSQL database.
  const config: Config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: `/tmp/callrec-test-${process.pid}`, LOG_LEVEL: 'silent', PII_MASTER_KEY: TEST_PII_MASTER_KEY, ...env });
  const service = await startService(config, { logger: silentLogger, database: t.database, leaseMs: 2000, recordingPipeline: false, ...opts });
  return Object.assign(service, {
    post(path: string, body: unknown, headers: Record<string, string> = {}) {
      return fetch(service.url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' || body instanceof Uint8Array ? (body as string) : JSON.stringify(body),
      });
    },
    async close() {
      await service.stop();
      await t.close();
    },
  });
}
