// When to renew a signed recording URL (pure; unit-tested in Node).

/** Renew this long before expiry: 5 minutes … */
export const REFRESH_MARGIN_SECONDS = 300;
/** … but at most half the URL's lifetime (a URL that lives 20 s is renewed after 10 s, not at once). */
/**
 * @param {number} lifetimeSeconds
 * @returns {number}
 */
export function refreshMarginSeconds(lifetimeSeconds) {
  const life = Number(lifetimeSeconds);
  if (!Number.isFinite(life) || life <= 0) return REFRESH_MARGIN_SECONDS;
  return Math.min(REFRESH_MARGIN_SECONDS, life / 2);
}

/** Shortest wait between two renewals (never a tight loop, whatever the server says). */
export const MIN_REFRESH_DELAY_MS = 1000;

/**
 * Milliseconds from now until a URL that expires in `expiresInSeconds` should be renewed. `lifetimeSeconds` is
 * how long URLs live when freshly signed (RECORDING_URL_EXPIRY_SECONDS); it defaults to `expiresInSeconds`.
 * A URL already inside the margin is renewed halfway to its expiry.
 * @param {number} expiresInSeconds
 * @param {number} [lifetimeSeconds]
 * @returns {number}
 */
export function refreshDelayMs(expiresInSeconds, lifetimeSeconds = expiresInSeconds) {
  const left = Math.max(0, Number(expiresInSeconds) || 0);
  const margin = refreshMarginSeconds(Math.max(Number(lifetimeSeconds) || 0, 0) || left);
  const wait = left > margin ? left - margin : left / 2;
  return Math.max(MIN_REFRESH_DELAY_MS, Math.round(wait * 1000));
}

/**
 * When a fresh URL may replace the one the audio element is using without interrupting the listener:
 * 'now' when nothing is playing, otherwise 'later' (at the next pause, seek or end, or on an error).
 * @param {{ hasSource: boolean, paused: boolean, ended: boolean }} media
 * @returns {'now' | 'later'}
 */
export function swapMoment(media) {
  if (!media.hasSource || media.paused || media.ended) return 'now';
  return 'later';
}
