/**
 * Waits for a condition instead of a fixed time: calls `probe` until it returns a truthy value and returns
 * that value. On timeout it fails with a message naming what was awaited, the time waited and the last
 * value the probe returned (`what` may be a function, for a message built at that moment). A probe that
 * throws fails at once, unless `retryErrors` is set (a page navigating, a server still starting): then the
 * last error is named in the timeout's message.
 */
export interface EventuallyOptions {
  /** How long to wait at most (ms); 15 s unless told. */
  timeoutMs?: number;
  /** Pause between probes (ms); 25 unless told. */
  intervalMs?: number;
  /** Treat a probe that throws as "not yet" instead of failing at once. */
  retryErrors?: boolean;
}

type Truthy<T> = Exclude<T, undefined | null | false | 0 | ''>;

export async function eventually<T>(
  what: string | (() => string),
  probe: () => T | Promise<T>,
  { timeoutMs = 15_000, intervalMs = 25, retryErrors = false }: EventuallyOptions = {},
): Promise<Truthy<T>> {
  const started = Date.now();
  for (;;) {
    let last: string;
    try {
      const value = await probe();
      if (value) return value as Truthy<T>;
      last = `last value: ${describe(value)}`;
    } catch (err) {
      if (!retryErrors) throw err;
      last = `last error: ${(err as Error)?.message ?? String(err)}`;
    }
    if (Date.now() - started >= timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()} (${last})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
