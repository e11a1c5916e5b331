/**
 * Waits for a condition instead of a fixed time: calls `probe` until it returns a truthy value and returns
 * that value. On timeout it fails with a message naming what was awaited, the time waited and the last
 * value the probe returned (`what` may be a function, for a message built at that moment). A probe that
 * throws fails at once: a probe that must ride out errors catches them itself.
 */
export interface EventuallyOptions {
  /** How long to wait at most (ms); 15 s unless told. */
  timeoutMs?: number;
  /** Pause between probes (ms); 25 unless told. */
  intervalMs?: number;
}

type Truthy<T> = Exclude<T, undefined | null | false | 0 | ''>;

export async function eventually<T>(
  what: string | (() => string),
  probe: () => T | Promise<T>,
  { timeoutMs = 15_000, intervalMs = 25 }: EventuallyOptions = {},
): Promise<Truthy<T>> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value) return value as Truthy<T>;
    if (Date.now() - started >= timeoutMs) {
      const name = typeof what === 'string' ? what : what();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${name} (last value: ${describe(value)})`);
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
