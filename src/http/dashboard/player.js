// The recording player. Signed URLs are short-lived: the player renews its URL before it expires
// (refresh.js: 5 minutes early, at most half the URL's lifetime) and swaps the fresh URL in without
// interrupting the listener: at once when nothing is playing, otherwise at the next pause, seek or end.
// A playing element keeps streaming from the request it already has open (a signed URL is checked when a
// request starts), so it plays on past the old URL's expiry; if it ever needs a new request on an expired
// URL and fails, the error is recovered with a fresh URL at the same position, still playing.

import { ApiError, callPath } from './api.js';
import { h } from './dom.js';
import { formatTime } from './format.js';
import { refreshDelayMs, swapMoment } from './refresh.js';

/** @typedef {{ url?: string, expiresIn: number, expiresAt?: string }} UrlAnswer an answer of GET …/recording or POST …/recording/refresh */
/** @typedef {{ url: string, expiresAtMs: number }} SignedUrl */

/** @param {unknown} u */
function usableUrl(u) {
  try {
    const url = new URL(String(u), location.href);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `initial` is the answer of GET /api/calls/{id}/recording (with a `url`); `lifetimeSeconds` the lifetime of a
 * freshly signed URL (RECORDING_URL_EXPIRY_SECONDS). Returns `{ element, audio, destroy() }`.
 * @param {{ api: import('./api.js').Api, callId: string, initial: UrlAnswer, lifetimeSeconds?: number }} options
 */
export function createRecordingPlayer({ api, callId, initial, lifetimeSeconds }) {
  const audio = h('audio', { controls: true, preload: 'metadata', class: 'player', 'aria-label': 'Call recording' });
  const note = h('p', { class: 'player-note' });
  const element = h('div', { class: 'player-box' }, audio, note);

  /** @type {SignedUrl | undefined} */
  let current; // { url, expiresAtMs } the element is using
  /** @type {SignedUrl | undefined} */
  let pending; // a fresh URL waiting for a safe moment
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let nextRefreshAt = Infinity;
  let destroyed = false;
  let refreshes = 0;
  let swaps = 0;
  let lastTime = 0;
  let intendsToPlay = false;
  /** @type {{ time: number, play: boolean } | null} */
  let resume = null; // { time, play } to apply once the swapped-in source has its metadata
  let renewing = false;
  /** @type {number[]} */
  const recoveries = [];

  /**
   * @param {UrlAnswer} r
   * @returns {SignedUrl}
   */
  const accept = (r) => {
    const url = usableUrl(r && r.url);
    if (!url || !Number.isFinite(r.expiresIn)) throw new ApiError(0, 'invalid_response', 'the recording URL answer is not usable');
    return { url, expiresAtMs: Date.now() + r.expiresIn * 1000 };
  };

  function showState() {
    if (!current) return;
    const until = new Date((pending ?? current).expiresAtMs).toISOString();
    note.replaceChildren(`Secure link valid until ${formatTime(until)} · renewed automatically`);
    audio.dataset.urlExpiresAt = new Date(current.expiresAtMs).toISOString();
    audio.dataset.refreshes = String(refreshes);
    audio.dataset.swaps = String(swaps);
    audio.dataset.pendingSwap = pending ? 'true' : 'false';
  }

  /** @param {number} expiresIn */
  function schedule(expiresIn) {
    clearTimeout(timer);
    if (destroyed) return;
    const delay = refreshDelayMs(expiresIn, lifetimeSeconds);
    nextRefreshAt = Date.now() + delay;
    timer = setTimeout(refresh, delay);
  }

  /**
   * @param {SignedUrl} next
   * @param {{ time?: number, play?: boolean }} [at]
   */
  function swapIn(next, { time = audio.currentTime, play = !audio.paused && !audio.ended } = {}) {
    pending = undefined;
    current = next;
    resume = { time: Number.isFinite(time) ? time : 0, play };
    swaps += 1;
    audio.src = next.url;
    showState();
  }

  audio.addEventListener('loadedmetadata', () => {
    if (!resume) return;
    const { time, play } = resume;
    resume = null;
    if (time > 0) {
      try {
        audio.currentTime = Math.min(time, Number.isFinite(audio.duration) ? audio.duration : time);
      } catch {
        // not seekable: start from the beginning
      }
    }
    if (play) audio.play().catch(() => {});
  });

  async function renew() {
    const r = await api.post(callPath(callId, '/recording/refresh'));
    const fresh = accept(r);
    refreshes += 1;
    schedule(r.expiresIn);
    return fresh;
  }

  /** Timer: sign a fresh URL and swap it in when that cannot interrupt playback. */
  async function refresh() {
    if (destroyed || renewing) return;
    renewing = true;
    try {
      const fresh = await renew();
      if (destroyed) return;
      const playing = { hasSource: Boolean(audio.currentSrc), paused: audio.paused || resume !== null, ended: audio.ended };
      if (swapMoment(playing) === 'now' && resume === null) swapIn(fresh, { play: false });
      else pending = fresh;
      showState();
    } catch (err) {
      if (destroyed) return;
      if (err instanceof ApiError && [401, 403, 404, 410].includes(err.status)) {
        note.replaceChildren(`The link could not be renewed: ${err.message}`);
        return;
      }
      // try again soon, well before the current URL runs out
      const left = current ? current.expiresAtMs - Date.now() : 0;
      clearTimeout(timer);
      nextRefreshAt = Date.now() + Math.max(1000, Math.min(10_000, left / 4));
      timer = setTimeout(refresh, nextRefreshAt - Date.now());
    } finally {
      renewing = false;
    }
  }

  /** Renew now and continue at `state` (after an error, or when play starts on an expired link). */
  /** @param {{ time: number, play: boolean }} state */
  async function renewAndResume(state) {
    if (renewing) return;
    renewing = true;
    try {
      const fresh = await renew();
      if (!destroyed) swapIn(fresh, state);
    } catch (err) {
      if (!destroyed) note.replaceChildren(`The recording cannot be played right now: ${/** @type {Error} */ (err).message}`);
    } finally {
      renewing = false;
    }
  }

  audio.addEventListener('timeupdate', () => {
    if (!resume && !audio.seeking) lastTime = audio.currentTime;
  });
  audio.addEventListener('play', () => {
    intendsToPlay = true;
    if (resume) return;
    if (pending) swapIn(pending, { play: true });
    else if (current && Date.now() >= current.expiresAtMs - 1000) void renewAndResume({ time: audio.currentTime, play: true });
  });
  audio.addEventListener('pause', () => {
    if (resume || audio.error) return;
    intendsToPlay = false;
    if (pending && !audio.seeking && !audio.ended) swapIn(pending, { play: false });
  });
  audio.addEventListener('seeking', () => {
    if (resume) {
      // a seek while the fresh source loads: go there once it is ready
      if (audio.currentTime > 0) resume.time = audio.currentTime;
      return;
    }
    if (pending) swapIn(pending, { time: audio.currentTime, play: intendsToPlay });
  });
  audio.addEventListener('ended', () => {
    intendsToPlay = false;
    if (pending) swapIn(pending, { time: 0, play: false });
  });
  audio.addEventListener('error', () => {
    if (destroyed || !current) return;
    const now = Date.now();
    while (recoveries.length && now - /** @type {number} */ (recoveries[0]) > 60_000) recoveries.shift();
    if (recoveries.length >= 3) {
      note.replaceChildren('The recording cannot be played right now. Reload the call to try again.');
      return;
    }
    recoveries.push(now);
    void renewAndResume({ time: lastTime, play: intendsToPlay });
  });

  // Timers of background tabs are throttled: catch up as soon as the page is visible again.
  const onVisible = () => {
    if (document.visibilityState === 'visible' && Date.now() >= nextRefreshAt) void refresh();
  };
  document.addEventListener('visibilitychange', onVisible);

  const first = accept(initial);
  swapIn(first, { time: 0, play: false });
  swaps = 0;
  schedule(initial.expiresIn);
  showState();

  return {
    element,
    audio,
    destroy() {
      destroyed = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
      audio.pause();
      audio.removeAttribute('src');
      audio.load();
    },
  };
}
