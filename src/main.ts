import { ConfigError, loadConfig } from './config.ts';
import { startService } from './service.ts';

let config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`callrec: ${err.message}`);
    process.exit(2);
  }
  throw err;
}

const service = await startService(config);
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
