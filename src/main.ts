import { ConfigError, loadConfig } from './config.ts';
import { startService } from './service.ts';

function failOnConfigError(err: unknown): never {
  if (err instanceof ConfigError) {
    console.error(`callrec: ${err.message}`);
    process.exit(2);
  }
  throw err;
}

let config;
try {
  config = loadConfig();
} catch (err) {
  failOnConfigError(err);
}

const service = await startService(config).catch(failOnConfigError);
console.log(`callrec is running: dashboard ${config.publicBaseUrl}/ · webhooks ${config.publicBaseUrl}/webhooks/vapi`);

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, async () => {
    if (stopping) process.exit(1);
    stopping = true;
    service.logger.info({ signal: sig }, 'shutting down');
    await service.stop().catch((err) => service.logger.error({ err, errorCode: 'internal' }, 'shutdown failed'));
    process.exit(0);
  });
}
