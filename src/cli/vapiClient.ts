import { loadConfig } from '../config.ts';
import { createLogger, type Logger } from '../log.ts';
import { createVapiClient, type VapiClient } from '../vapi/restClient.ts';
import { UsageError } from './command.ts';

/** The Vapi REST client of the configuration for a `callrec vapi` command; a usage error naming VAPI_API_KEY when it is not set. */
export function vapiClientFromEnv(env: Record<string, string | undefined>, purpose: string): { client: VapiClient; logger: Logger } {
  const config = loadConfig(env);
  if (!config.VAPI_API_KEY) throw new UsageError(`VAPI_API_KEY is not set: set it to a Vapi private API key (dashboard → API Keys) to ${purpose}`);
  const logger = createLogger(env.LOG_LEVEL ?? 'warn');
  return { client: createVapiClient({ baseUrl: config.VAPI_API_URL, apiKey: config.VAPI_API_KEY, logger }), logger };
}
