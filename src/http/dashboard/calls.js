// The calls list: newest first, search and filters, paging, and live badges.

import { ApiError, callPath } from './api.js';
import { announce, badge, h } from './dom.js';
import { formatDateTime, formatDuration, humanize, PRIVACY_EVENTS, privacyBadges, recordingBadge, REDACTED_TEXTS, shortId, statusFromLiveEvent } from './format.js';

const PAGE = 50;
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/** @typedef {import('./types.d.ts').CallSummary} CallSummary */
/** @typedef {{ q?: string, recording_status?: string, from?: string, to?: string }} Filters */

/**
 * The list's filters from the form (dates are local days; `to` includes its whole day).
 * @param {HTMLFormElement | undefined} form
 * @returns {Filters}
 */
export function filtersFromForm(form) {
  const data = new FormData(form);
  const text = (/** @type {string} */ k) => String(data.get(k) ?? '').trim();
  const day = (/** @type {string} */ k, plusDays = 0) => {
    const v = text(k);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) return undefined;
    const [y, m, d] = /** @type {[number, number, number]} */ (v.split('-').map(Number));
    return new Date(y, m - 1, d + plusDays).toISOString();
  };
  return {
    q: text('q') || undefined,
    recording_status: text('recording_status') || undefined,
    from: day('from'),
    to: day('to', 1),
  };
}

/** A cell's class, plus `redacted` when its text stands for erased or expired data. */
const redacted = (/** @type {string} */ cls, /** @type {string | null} */ text) => (REDACTED_TEXTS.includes(text ?? '') ? `${cls} redacted` : cls);

const active = (/** @type {Filters} */ f) => Object.values(f).some((v) => v !== undefined);

/**
 * `root`: the list section (with #calls-body, #calls-empty, #calls-more, #calls-error, #calls-count).
 * `onLoadError(err)`: a load failed. Returns the controller.
 * @param {{
 *   api: import('./api.js').Api,
 *   elements: { body: HTMLElement, empty: HTMLElement, more: HTMLElement, error: HTMLElement, count: HTMLElement },
 * }} options
 */
export function createCallList({ api, elements }) {
  const { body, empty, more, error, count } = elements;
  /** @type {CallSummary[]} */
  let rows = [];
  /** @type {string | null} */
  let nextCursor = null;
  /** @type {Filters} */
  let filters = {};
  let selected = '';
  let generation = 0;
  /** @type {Map<string, HTMLTableRowElement>} */
  const rowEls = new Map();
  /**
   * Recording states learnt from live events, newer than the row they apply to (by log position).
   * @type {Map<string, { status: string, transcriptOnly: boolean, position: number }>}
   */
  const live = new Map();

  /** @param {CallSummary} row */
  function effective(row) {
    const l = live.get(row.id);
    if (l && l.position > row.last_position) return { status: l.status, transcriptOnly: l.transcriptOnly };
    return { status: row.recording_status, transcriptOnly: row.transcript_only_fallback };
  }

  /** @param {CallSummary} row */
  function rowEl(row) {
    const state = effective(row);
    const b = recordingBadge(state.status, state.transcriptOnly);
    const href = `#/calls/${encodeURIComponent(row.id)}`;
    const tr = h(
      'tr',
      { class: row.id === selected ? 'selected' : undefined, dataset: { callId: row.id, recordingStatus: state.status } },
      h('td', { class: 'when' }, h('time', { datetime: row.ended_at ?? undefined, text: formatDateTime(row.ended_at) })),
      h(
        'td',
        { class: 'call' },
        h('a', { href, title: row.id, 'aria-current': row.id === selected ? 'true' : undefined, text: shortId(row.id) }),
        // erased / expired / held: beside the id, so they stay in sight when a call is open beside the list
        h('span', { class: 'flags' }, privacyBadges(row).map((f) => h('span', { class: `flag badge-${f.tone}`, dataset: { flag: f.kind }, text: f.label }))),
        h('span', { class: 'sub', text: humanize(row.call_type) }),
      ),
      h('td', { class: redacted('caller', row.customerNumber), text: row.customerNumber ?? '—' }),
      h('td', { class: 'assistant', title: row.assistantId ?? undefined, text: row.assistantId ? shortId(row.assistantId) : '—' }),
      h('td', { class: 'num', text: formatDuration(row.duration_seconds) }),
      h('td', { class: 'reason', text: humanize(row.ended_reason) }),
      h('td', { class: 'rec' }, badge(b)),
      h('td', { class: redacted('summary-cell', row.summary), text: row.summary ?? '' }),
    );
    tr.addEventListener('click', (e) => {
      if (e.target instanceof Element && e.target.closest('a')) return;
      location.hash = href;
    });
    return tr;
  }

  function render() {
    rowEls.clear();
    body.replaceChildren(
      ...rows.map((r) => {
        const el = rowEl(r);
        rowEls.set(r.id, el);
        return el;
      }),
    );
    empty.hidden = rows.length > 0;
    empty.textContent = active(filters) ? 'No calls match these filters.' : 'No calls yet. Calls appear here the moment Vapi reports them.';
    more.hidden = !nextCursor;
    count.textContent = rows.length === 0 ? '' : `${rows.length}${nextCursor ? '+' : ''} call${rows.length === 1 ? '' : 's'}`;
  }

  async function load(newFilters = filters) {
    filters = newFilters;
    const mine = ++generation;
    error.hidden = true;
    body.setAttribute('aria-busy', 'true');
    try {
      /** @type {import('./types.d.ts').CallList} */
      const page = await api.get('/api/calls', { limit: PAGE, ...filters });
      if (mine !== generation) return;
      rows = page.data;
      nextCursor = page.nextCursor;
      render();
    } catch (err) {
      if (mine !== generation) return;
      error.textContent = err instanceof ApiError && err.code === 'invalid_query' ? `Check the filters: ${err.message}` : `Calls cannot be loaded: ${/** @type {Error} */ (err).message}`;
      error.hidden = false;
    } finally {
      if (mine === generation) body.removeAttribute('aria-busy');
    }
  }

  async function loadMore() {
    if (!nextCursor) return;
    const mine = generation;
    try {
      /** @type {import('./types.d.ts').CallList} */
      const page = await api.get('/api/calls', { limit: PAGE, ...filters, cursor: nextCursor });
      if (mine !== generation) return;
      const known = new Set(rows.map((r) => r.id));
      rows = rows.concat(page.data.filter((r) => !known.has(r.id)));
      nextCursor = page.nextCursor;
      render();
    } catch (err) {
      error.textContent = `More calls cannot be loaded: ${/** @type {Error} */ (err).message}`;
      error.hidden = false;
    }
  }

  /**
   * Newest first: ended_at desc (calls without an end last), then id desc, as the API orders them.
   * @param {CallSummary} a
   * @param {CallSummary} b
   */
  function before(a, b) {
    if (a.ended_at !== b.ended_at) {
      if (a.ended_at === null) return false;
      if (b.ended_at === null) return true;
      return a.ended_at > b.ended_at;
    }
    return a.id > b.id;
  }

  /** @param {string} callId */
  async function addEndedCall(callId) {
    if (active(filters) || rowEls.has(callId)) return;
    const mine = generation;
    // the read model may be a moment behind the live event
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        /** @type {import('./types.d.ts').CallDetail} */
        const { call } = await api.get(callPath(callId));
        if (mine !== generation || rowEls.has(callId)) return;
        const { transcript: _t, ...row } = call;
        const at = rows.findIndex((r) => before(row, r));
        if (at === -1 && nextCursor) return; // older than everything shown: it is on a later page
        rows.splice(at === -1 ? rows.length : at, 0, row);
        render();
        announce(`New call ${shortId(callId)}`);
        return;
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 404) return;
        await sleep(Math.min(1500, 100 * (attempt + 1)));
      }
    }
  }

  /**
   * The call changed (erased, held, released, expired): fetch it again and redraw its row, once the read model has
   * applied the event (`position`).
   * @param {string} callId
   * @param {number} position
   */
  async function refreshRow(callId, position) {
    const mine = generation;
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        /** @type {import('./types.d.ts').CallDetail} */
        const { call } = await api.get(callPath(callId));
        if (mine !== generation) return;
        if (call.last_position < position) {
          await sleep(Math.min(1500, 100 * (attempt + 1)));
          continue;
        }
        const at = rows.findIndex((r) => r.id === callId);
        const tr = rowEls.get(callId);
        if (at === -1 || !tr) return;
        const { transcript: _t, ...row } = call;
        rows[at] = row;
        const fresh = rowEl(row);
        tr.replaceWith(fresh);
        rowEls.set(callId, fresh);
        return;
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 404) return;
        await sleep(Math.min(1500, 100 * (attempt + 1)));
      }
    }
  }

  return {
    load,
    loadMore,
    /** The newest log position among the listed calls (0 when none). */
    newestPosition: () => rows.reduce((max, r) => Math.max(max, Number(r.last_position) || 0), 0),
    get filters() {
      return filters;
    },
    /** @param {string} id */
    select(id) {
      selected = id;
      for (const [rowId, tr] of rowEls) {
        tr.classList.toggle('selected', rowId === id);
        const a = tr.querySelector('a');
        if (rowId === id) a?.setAttribute('aria-current', 'true');
        else a?.removeAttribute('aria-current');
      }
    },
    /**
     * A live event from GET /api/events.
     * @param {string} name
     * @param {{ callId: string } & Record<string, unknown>} data
     * @param {number} position
     */
    live(name, data, position) {
      if (name === 'call_ended') {
        void addEndedCall(data.callId);
        return;
      }
      if (PRIVACY_EVENTS.includes(name)) {
        if (rowEls.has(data.callId)) {
          void refreshRow(data.callId, position);
          announce(`Call ${shortId(data.callId)}: ${name.replace('_', ' ')}`);
        }
        if (name !== 'recording_expired') return;
      }
      const next = statusFromLiveEvent(name, data);
      if (!next) return;
      const prev = live.get(data.callId);
      if (prev && prev.position >= position) return;
      live.set(data.callId, { ...next, position });
      const row = rows.find((r) => r.id === data.callId);
      const tr = rowEls.get(data.callId);
      if (!row || !tr) return;
      const fresh = rowEl(row);
      tr.replaceWith(fresh);
      rowEls.set(row.id, fresh);
      if (name === 'recording_ready') {
        if (Number.isFinite(data.durationSeconds)) row.recording_duration_seconds = /** @type {number} */ (data.durationSeconds);
        announce(`Recording ready for call ${shortId(data.callId)}`);
      }
    },
  };
}
