/** Why an append was given up before it reached the database (the caller answers 503 and the sender retries). */

/** The group-commit queue already holds its maximum (APPEND_QUEUE_MAX): refused at once, nothing queued. */
export class AppendQueueFullError extends Error {
  readonly code = 'append_queue_full';
  constructor(readonly limit: number) {
    super(`${limit} appends are already waiting to be written (APPEND_QUEUE_MAX)`);
    this.name = 'AppendQueueFullError';
  }
}

/** The append waited in the queue longer than its deadline (DATABASE_STATEMENT_TIMEOUT_MS) and was withdrawn unwritten. */
export class AppendTimeoutError extends Error {
  readonly code = 'append_timeout';
  constructor(readonly timeoutMs: number) {
    super(`the append was not written within ${timeoutMs} ms (database slow or unreachable)`);
    this.name = 'AppendTimeoutError';
  }
}
