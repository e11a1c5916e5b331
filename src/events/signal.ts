/**
 * A wake-up signal for readers of the log. `version` grows on every notify; `wait(since)` resolves at
 * once when the version has moved past `since`, so a wake-up between a read and the wait is never lost.
 */
export interface AppendSignal {
  readonly version: number;
  notify(): void;
  wait(since: number, timeoutMs: number): Promise<void>;
}

export function createAppendSignal(): AppendSignal {
  let version = 0;
  let waiters: Array<() => void> = [];
  return {
    get version() {
      return version;
    },
    notify() {
      version += 1;
      const w = waiters;
      waiters = [];
      for (const fn of w) fn();
    },
    wait(since, timeoutMs) {
      if (version !== since) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMs);
        function done() {
          clearTimeout(timer);
          waiters = waiters.filter((w) => w !== done);
          resolve();
        }
        waiters.push(done);
      });
    },
  };
}
