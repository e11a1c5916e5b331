// callrec dashboard: sign-in, calls list, call detail, metrics and live updates. Plain ES modules, no build.

import { ApiError, createApi } from './api.js';
import { announce, byId } from './dom.js';
import { createCallList, filtersFromForm } from './calls.js';
import { createDetailView } from './detail.js';
import { sessionFromToken } from './format.js';
import { connectLive } from './live.js';
import { loadMetrics } from './metrics.js';

const TOKEN_KEY = 'callrec.token';
const DEFAULT_CONFIG = { devAuth: false, orgClaim: 'org_id', roleClaim: 'role', urlExpirySeconds: 3600 };

/**
 * @typedef {object} PageState
 * @property {typeof DEFAULT_CONFIG} config
 * @property {string | null} token
 * @property {import('./types.d.ts').Session | null} session
 * @property {ReturnType<typeof connectLive> | null} live
 * @property {ReturnType<typeof createCallList> | null} list
 * @property {ReturnType<typeof createDetailView> | null} detail
 * @property {ReturnType<typeof setTimeout> | undefined} expiryTimer
 * @property {ReturnType<typeof setTimeout> | undefined} metricsTimer
 */

/** @type {PageState} */
const state = {
  config: DEFAULT_CONFIG,
  token: null,
  session: null,
  live: null,
  list: null,
  detail: null,
  expiryTimer: undefined,
  metricsTimer: undefined,
};

const api = createApi({
  getToken: () => state.token,
  onUnauthorized: (err) => {
    if (state.session) signOut(err.code === 'invalid_token' ? `Your session has ended (${err.message}). Sign in again.` : 'Please sign in.');
  },
});

async function loadConfig() {
  try {
    const res = await fetch('/dashboard/config.json', { cache: 'no-store' });
    if (res.ok) return { ...DEFAULT_CONFIG, ...(await res.json()) };
  } catch {
    // defaults
  }
  return DEFAULT_CONFIG;
}

// ---- sign-in -------------------------------------------------------------------------------------------

/** @param {string} [message] */
function showSignIn(message) {
  byId('dashboard').hidden = true;
  byId('who').hidden = true;
  byId('signin').hidden = false;
  byId('dev-form').hidden = !state.config.devAuth;
  const note = byId('signin-message');
  note.hidden = !message;
  note.textContent = message ?? '';
  document.title = 'Sign in · callrec';
  byId('token').focus();
}

/** @param {string} message */
function signInError(message) {
  const note = byId('signin-message');
  note.textContent = message;
  note.hidden = false;
}

/** @param {string} token */
async function signIn(token) {
  const session = sessionFromToken(token, state.config.orgClaim, state.config.roleClaim);
  if (!session) return signInError('That is not a token (a JWT looks like xxxxx.yyyyy.zzzzz).');
  if (session.expiresAtMs !== undefined && session.expiresAtMs <= Date.now()) return signInError('That token has expired.');
  state.token = token;
  try {
    await api.get('/api/calls', { limit: 1 });
  } catch (err) {
    state.token = null;
    return signInError(err instanceof ApiError && err.status !== 0 ? `callrec refused the token: ${err.message}` : /** @type {Error} */ (err).message);
  }
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // private mode: the session lasts as long as the page
  }
  state.session = session;
  startDashboard();
}

/** @param {string} [message] */
function signOut(message) {
  state.live?.close();
  state.live = null;
  state.detail?.destroy();
  state.detail = null;
  clearTimeout(state.expiryTimer);
  clearTimeout(state.metricsTimer);
  state.token = null;
  state.session = null;
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // nothing stored
  }
  byId('calls-body').replaceChildren();
  byId('detail').replaceChildren();
  if (location.hash) history.replaceState(null, '', location.pathname);
  showSignIn(message);
}

// ---- dashboard -----------------------------------------------------------------------------------------

/** @type {Record<string, string>} */
const LIVE_TEXT = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', offline: 'Offline, retrying…' };

/** @param {string} status */
function setLiveStatus(status) {
  const el = byId('live');
  el.dataset.state = status;
  /** @type {Element} */ (el.querySelector('.live-text')).textContent = LIVE_TEXT[status] ?? status;
}

function scheduleMetrics() {
  clearTimeout(state.metricsTimer);
  state.metricsTimer = setTimeout(() => state.session && loadMetrics(api, byId('metrics')), 2000);
}

/**
 * @param {string} name
 * @param {{ callId: string } & Record<string, unknown>} data
 * @param {number} position
 */
function onLive(name, data, position) {
  state.list?.live(name, data, position);
  state.detail?.live(name, data, position);
  scheduleMetrics();
}

/** The server could not replay what the page missed (too far behind): refetch the list and the metrics. */
async function onReset() {
  if (!state.list) return;
  await Promise.all([state.list.load(filtersFromForm(/** @type {HTMLFormElement} */ (byId('filters')))), loadMetrics(api, byId('metrics'))]);
  state.live?.setFloor(state.list.newestPosition());
}

async function startDashboard() {
  const session = /** @type {import('./types.d.ts').Session} */ (state.session);
  byId('signin').hidden = true;
  byId('dashboard').hidden = false;
  byId('who').hidden = false;
  byId('who-text').replaceChildren(session.userId || 'signed in', ' · ', session.orgId || 'unknown org', ' · ', session.role);
  document.title = `Calls · ${session.orgId} · callrec`;
  if (session.expiresAtMs !== undefined) {
    clearTimeout(state.expiryTimer);
    state.expiryTimer = setTimeout(() => signOut('Your session has expired. Sign in again.'), Math.min(2 ** 31 - 1, Math.max(0, session.expiresAtMs - Date.now())));
  }
  state.list = createCallList({
    api,
    elements: { body: byId('calls-body'), empty: byId('calls-empty'), more: byId('calls-more'), error: byId('calls-error'), count: byId('calls-count') },
  });
  // Live first, then the list: whatever happens after the list was read arrives as an event.
  state.live = connectLive({ getToken: () => state.token, onEvent: onLive, onReset, onStatus: setLiveStatus, canReconnect: () => state.session !== null });
  await state.live.ready();
  if (!state.session) return;
  const list = () => /** @type {NonNullable<PageState['list']>} */ (state.list);
  await Promise.all([list().load(filtersFromForm(/** @type {HTMLFormElement} */ (byId('filters')))), loadMetrics(api, byId('metrics'))]);
  state.live?.setFloor(list().newestPosition());
  route();
}

function route() {
  if (!state.session) return;
  const m = /^#\/calls\/([^/]+)$/.exec(location.hash);
  let id = '';
  if (m) {
    try {
      id = decodeURIComponent(/** @type {string} */ (m[1]));
    } catch {
      id = '';
    }
  }
  if (state.detail && state.detail.callId === id) return;
  state.detail?.destroy();
  state.detail = null;
  state.list?.select(id);
  const pane = byId('detail');
  document.body.classList.toggle('has-detail', Boolean(id));
  if (!id) {
    pane.replaceChildren();
    const p = document.createElement('p');
    p.className = 'muted placeholder';
    p.textContent = 'Select a call to see its recording, transcript and summary.';
    pane.append(p);
    return;
  }
  state.detail = createDetailView({ api, root: pane, callId: id, session: /** @type {import('./types.d.ts').Session} */ (state.session), config: state.config });
}

// ---- wiring --------------------------------------------------------------------------------------------

function wire() {
  byId('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void signIn(/** @type {HTMLInputElement} */ (byId('token')).value.trim());
  });
  byId('dev-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData(/** @type {HTMLFormElement} */ (e.currentTarget));
    try {
      const r = await api.post('/api/dev/token', { org: String(data.get('org')).trim(), user: String(data.get('user')).trim(), role: String(data.get('role')) });
      await signIn(r.token);
    } catch (err) {
      signInError(`No development token: ${/** @type {Error} */ (err).message}`);
    }
  });
  byId('signout').addEventListener('click', () => signOut('You have signed out.'));
  byId('filters').addEventListener('submit', (e) => {
    e.preventDefault();
    void state.list?.load(filtersFromForm(/** @type {HTMLFormElement} */ (e.currentTarget)));
  });
  byId('filters').addEventListener('reset', (e) => {
    const form = /** @type {HTMLFormElement} */ (e.currentTarget);
    setTimeout(() => void state.list?.load(filtersFromForm(form)), 0);
  });
  /** @type {HTMLSelectElement} */ (byId('filters').querySelector('select')).addEventListener('change', (e) =>
    void state.list?.load(filtersFromForm(/** @type {HTMLFormElement} */ (/** @type {HTMLSelectElement} */ (e.currentTarget).form))),
  );
  byId('calls-more').addEventListener('click', () => void state.list?.loadMore());
  window.addEventListener('hashchange', route);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && state.detail && !(e.target instanceof HTMLInputElement)) {
      location.hash = '#/';
      announce('Call details closed');
    }
  });
}

async function main() {
  wire();
  state.config = await loadConfig();
  /** @type {string | null} */
  let saved = null;
  try {
    saved = sessionStorage.getItem(TOKEN_KEY);
  } catch {
    saved = null;
  }
  const session = saved ? sessionFromToken(saved, state.config.orgClaim, state.config.roleClaim) : undefined;
  if (saved && session && (session.expiresAtMs === undefined || session.expiresAtMs > Date.now())) {
    state.token = saved;
    state.session = session;
    void startDashboard();
  } else {
    showSignIn(saved ? 'Your session has expired. Sign in again.' : undefined);
  }
}

void main();
