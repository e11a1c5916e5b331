/**
 * Progress of a long CLI command (replay, migrate-events, sweep, vapi backfill) on stderr, so stdout keeps
 * only the result: a bar redrawn in place on a terminal; otherwise a plain line every few seconds (logs, CI).
 * Both show the count, the rate and, when the total is known, the time left. `done()` ends with one summary line.
 */

export interface ProgressOptions {
  /** What is being done, e.g. `replay call_logs`. */
  label: string;
  /** What is counted, e.g. `events` (default `items`). */
  unit?: string;
  /** The expected count, when known (enables the bar's fill, the percentage and the time left). */
  total?: number;
}

export interface Progress {
  /** The count so far (absolute), and optionally a better total. */
  update(done: number, total?: number): void;
  /** Ends the display with a summary line. */
  done(note?: string): void;
}

interface Output {
  write(text: string): unknown;
}

export function createProgress(opts: ProgressOptions & { stream: Output; tty: boolean; intervalMs?: number; now?: () => number }): Progress {
  const now = opts.now ?? Date.now;
  const unit = opts.unit ?? 'items';
  const started = now();
  const intervalMs = opts.intervalMs ?? (opts.tty ? 100 : 5000);
  let total = opts.total;
  let count = 0;
  let lastDrawn = -Infinity;
  let finished = false;

  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const duration = (ms: number) => {
    const s = Math.max(0, Math.round(ms / 1000));
    return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  };
  const figures = () => {
    const elapsed = Math.max(1, now() - started);
    const rate = (count / elapsed) * 1000;
    const known = total !== undefined && total > 0;
    const left = known && rate > 0 ? duration(((total! - Math.min(count, total!)) / rate) * 1000) : '?';
    return { rate, known, left, elapsed };
  };
  const line = () => {
    const f = figures();
    const counts = f.known ? `${fmt(count)}/${fmt(total!)} ${unit} (${Math.min(100, Math.floor((count / total!) * 100))}%)` : `${fmt(count)} ${unit}`;
    return `${counts}, ${fmt(f.rate)} ${unit}/s, ${f.known ? `${f.left} left` : `${duration(f.elapsed)} elapsed`}`;
  };
  const bar = () => {
    const width = 24;
    const f = figures();
    const filled = f.known ? Math.min(width, Math.round((count / total!) * width)) : 0;
    const body = f.known ? `${'#'.repeat(filled)}${'.'.repeat(width - filled)}` : `${'.'.repeat(width)}`;
    return `\r\x1b[2K${opts.label} [${body}] ${line()}`;
  };
  const draw = (force = false) => {
    const t = now();
    if (!force && t - lastDrawn < intervalMs) return;
    lastDrawn = t;
    opts.stream.write(opts.tty ? bar() : `${opts.label}: ${line()}\n`);
  };

  return {
    update(done, newTotal) {
      if (finished) return;
      count = done;
      if (newTotal !== undefined) total = newTotal;
      // A plain line is due only after a full interval; the first one comes after the first interval, not at once.
      if (!opts.tty && lastDrawn === -Infinity) lastDrawn = started;
      draw();
    },
    done(note) {
      if (finished) return;
      finished = true;
      const f = figures();
      const summary = `${opts.label}: ${fmt(count)} ${unit} in ${duration(f.elapsed)} (${fmt(f.rate)} ${unit}/s)${note ? `, ${note}` : ''}`;
      opts.stream.write(opts.tty ? `\r\x1b[2K${summary}\n` : `${summary}\n`);
    },
  };
}
