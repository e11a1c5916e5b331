import { pino, type Logger } from 'pino';

/**
 * Structured JSON logs. Every log line about a call carries `callId` and `correlationId`;
 * every error line carries an `errorCode` from src/errors.ts.
 */
export type { Logger };

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service: 'callrec' },
    redact: {
      paths: ['token', 'secret', 'apiKey', '*.token', '*.secret', 'headers.authorization', 'url.token'],
      censor: '[redacted]',
    },
  });
}

/** A logger that discards everything; for tests and benchmarks. */
export const silentLogger: Logger = pino({ level: 'silent' });
