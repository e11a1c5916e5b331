// One call: facts, the recording (player or transcript-only fallback), summary, transcript and, for
// auditors, the call's event history and who fetched its recording.

import { ApiError, callPath } from './api.js';
import { announce, badge, h } from './dom.js';
import { facts, fallbackView, downloadsView, goneView, historyView, summaryView, transcriptView } from './detailViews.js';
import { canAdminister, formatBytes, formatCost, formatDateTime, formatDuration, humanize, privacyBadges, recordingBadge, shortId } from './format.js';
import { createRecordingPlayer } from './player.js';
import { privacySection, privacyState } from './privacy.js';

const NO_AUDIO = new Set(['none', 'abandoned', 'missing']);
/** Recording states with no audio left to play: the player is not shown, a sentence says why. */
const GONE = new Set(['erased', 'expired']);
/** Live events that leave the recording as it is: the page redraws the facts and texts, a playing player plays on. */
const KEEP_PLAYER = new Set(['call_held', 'call_released', 'transcript_expired']);

/** The erased / expired / held badges of a call's header (not twice: the recording badge may already say it). */
function flagsView(/** @type {CallRow} */ call) {
  const shown = recordingBadge(call.recording_status, call.transcript_only_fallback).label;
  return h(
    'span',
    { class: 'detail-flags' },
    privacyBadges(call)
      .filter((f) => f.label !== shown)
      .map((f) => h('span', { class: `flag badge-${f.tone}`, dataset: { flag: f.kind }, text: f.label })),
  );
}
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/** @typedef {import('./types.d.ts').CallRow} CallRow */
/** @typedef {import('./types.d.ts').RecordingSummary} RecordingSummary */

/**
 * Renders call `callId` into `root`. `session`: { role }; `config`: the page config. Returns
 * `{ live(name, data), destroy() }`.
 * @param {{
 *   api: import('./api.js').Api,
 *   root: HTMLElement,
 *   callId: string,
 *   session: Pick<import('./types.d.ts').Session, 'role'>,
 *   config: { urlExpirySeconds?: number },
 *   onLoaded?: (call: CallRow) => void,
 * }} options
 */
export function createDetailView({ api, root, callId, session, config, onLoaded = () => {} }) {
  let destroyed = false;
  /** @type {ReturnType<typeof createRecordingPlayer> | undefined} */
  let player;
  /** @type {HTMLElement} */
  let recordingBox = h('div', { class: 'recording-box' });
  /** @type {string | undefined} */
  let recordingState;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let reloadTimer;

  root.replaceChildren(h('p', { class: 'muted loading', text: 'Loading call…' }));

  /**
   * @param {CallRow} call
   * @param {RecordingSummary} recording
   */
  async function loadRecording(call, recording, undecided = false) {
    recordingState = recording.status;
    player?.destroy();
    player = undefined;
    if (GONE.has(recording.status)) {
      recordingBox.replaceChildren(goneView(call, recording.status));
      return;
    }
    const info = facts([
      ['Length', formatDuration(recording.durationSeconds ?? call.duration_seconds)],
      ['Size', formatBytes(recording.bytes)],
      ['Format', call.recording_format ? `${call.recording_format}${call.recording_channels === 2 ? ' · stereo' : ''}` : '—'],
    ]);
    if (recording.available) {
      recordingBox.replaceChildren(h('p', { class: 'muted', text: 'Fetching a secure link…' }));
      for (let attempt = 0; attempt < 20 && !destroyed; attempt++) {
        try {
          /** @type {import('./types.d.ts').RecordingResponse} */
          const r = await api.get(callPath(callId, '/recording'));
          if (destroyed) return;
          if ('transcriptOnly' in r) {
            recordingBox.replaceChildren(fallbackView(r.reason));
            return;
          }
          player = createRecordingPlayer({ api, callId, initial: r, lifetimeSeconds: config.urlExpirySeconds });
          recordingBox.replaceChildren(player.element, info);
          return;
        } catch (err) {
          if (destroyed) return;
          // the read model may be a moment behind the live event that brought us here
          if (err instanceof ApiError && err.code === 'recording_not_ready') {
            await sleep(Math.min(2000, 200 * (attempt + 1)));
            continue;
          }
          if (err instanceof ApiError && err.code === 'recording_missing') {
            recordingBox.replaceChildren(fallbackView('recording_missing'));
            return;
          }
          recordingBox.replaceChildren(
            h('p', { class: 'error', role: 'alert', text: `The recording cannot be opened: ${/** @type {Error} */ (err).message}` }),
            h('button', { type: 'button', class: 'secondary', text: 'Try again', onclick: () => loadRecording(call, recording) }),
          );
          return;
        }
      }
      return;
    }
    if (undecided) {
      recordingBox.replaceChildren(h('p', { class: 'waiting', role: 'status', text: 'Checking for a recording…' }));
      return;
    }
    if (recording.transcriptOnly || NO_AUDIO.has(recording.status)) {
      // GET …/recording gives the reason (and confirms there is no audio).
      let reason = recording.errorCode ?? (recording.status === 'none' ? 'no_recording_url' : recording.status);
      try {
        const r = await api.get(callPath(callId, '/recording'));
        if (r && r.transcriptOnly && typeof r.reason === 'string') reason = r.reason;
      } catch {
        // keep the reason the call row gave
      }
      if (destroyed) return;
      const detail = recording.error && recording.error !== reason ? recording.error : '';
      recordingBox.replaceChildren(fallbackView(reason, detail));
      return;
    }
    const waiting =
      recording.status === 'pending'
        ? 'The recording is being saved. It appears here as soon as it is ready.'
        : `Saving the recording failed (attempt ${recording.attempts}${recording.errorCode ? `, ${recording.errorCode}` : ''}); ${
            recording.nextRetryAt ? `next try ${formatDateTime(recording.nextRetryAt)}` : 'it will be retried'
          }.`;
    recordingBox.replaceChildren(h('p', { class: 'waiting', role: 'status', text: waiting }));
  }

  async function loadAudit() {
    const box = h('section', { class: 'audit', 'aria-labelledby': 'history-h' }, h('h3', { id: 'history-h', text: 'History' }), h('p', { class: 'muted', text: 'Loading…' }));
    const access = h('section', { class: 'audit', 'aria-labelledby': 'access-h' }, h('h3', { id: 'access-h', text: 'Recording access' }), h('p', { class: 'muted', text: 'Loading…' }));
    root.querySelector('.detail')?.append(box, access);
    const [history, downloads] = await Promise.allSettled([
      api.get(callPath(callId, '/history')),
      api.get('/api/audit/downloads', { call_id: callId, limit: 50 }),
    ]);
    if (destroyed) return;
    /** @type {ChildNode} */ (box.lastChild).replaceWith(history.status === 'fulfilled' ? historyView(history.value.events) : h('p', { class: 'error', text: history.reason.message }));
    /** @type {ChildNode} */ (access.lastChild).replaceWith(downloads.status === 'fulfilled' ? downloadsView(downloads.value.data) : h('p', { class: 'error', text: downloads.reason.message }));
  }

  // A live event can be ahead of the read model by a moment; and a call without a recording URL is `none`
  // until the pipeline records why (TranscriptOnlyFallback). Show what there is, then look again shortly.
  const settling = (/** @type {RecordingSummary} */ r, /** @type {boolean} */ expectReady) => (expectReady && !r.available) || (r.status === 'none' && !r.transcriptOnly);

  /**
   * `until(call)`: the read model has caught up with what the page knows happened (a live event, an action it
   * took); until then the call is fetched again shortly, without showing the older state.
   * @param {{ focus?: boolean, expectReady?: boolean, retries?: number, until?: (call: CallRow) => boolean }} [options]
   */
  async function load({ focus = true, expectReady = false, retries = 20, until } = {}) {
    /** @type {import('./types.d.ts').CallDetail} */
    let answer;
    try {
      answer = await api.get(callPath(callId));
    } catch (err) {
      if (destroyed) return;
      const text = err instanceof ApiError && err.status === 404 ? 'This call does not exist in your organisation.' : `The call cannot be loaded: ${/** @type {Error} */ (err).message}`;
      root.replaceChildren(h('div', { class: 'detail' }, h('h2', { tabindex: '-1', text: 'Call not found' }), h('p', { class: 'error', role: 'alert', text })));
      if (focus) root.querySelector('h2')?.focus();
      return;
    }
    if (destroyed) return;
    const { call, recording } = answer;
    if (until && !until(call) && retries > 0) {
      clearTimeout(reloadTimer);
      reloadTimer = setTimeout(() => !destroyed && load({ focus, expectReady, retries: retries - 1, until }), 200);
      return;
    }
    recordingBox = h('div', { class: 'recording-box' });
    const heading = h('h2', { tabindex: '-1' }, 'Call ', h('code', { class: 'call-id', text: call.id }));
    root.replaceChildren(
      h(
        'article',
        { class: 'detail', dataset: { callId: call.id } },
        h(
          'header',
          { class: 'detail-head' },
          heading,
          h('span', { class: 'detail-badge' }, badge(recordingBadge(call.recording_status, call.transcript_only_fallback))),
          flagsView(call),
          h('a', { href: '#/', class: 'close', 'aria-label': 'Close call details', text: '×' }),
        ),
        facts([
          ['Ended', formatDateTime(call.ended_at)],
          ['Duration', formatDuration(call.duration_seconds)],
          ['Type', humanize(call.call_type)],
          ['Caller', call.customerNumber ?? '—'],
          ['Assistant', call.assistantId ? shortId(call.assistantId) : '—', call.assistantId ?? undefined],
          ['Ended reason', humanize(call.ended_reason)],
          ['Cost', formatCost(call.cost)],
          ['Status', call.status],
        ]),
        privacySection({ api, call, role: session.role, onChanged: changed }),
        h('section', { class: 'recording', 'aria-labelledby': 'recording-h' }, h('h3', { id: 'recording-h', text: 'Recording' }), recordingBox),
        h('section', { class: 'summary', 'aria-labelledby': 'summary-h' }, h('h3', { id: 'summary-h', text: 'Summary' }), summaryView(call.summary)),
        h('section', { class: 'transcript', 'aria-labelledby': 'transcript-h' }, h('h3', { id: 'transcript-h', text: 'Transcript' }), transcriptView(call.transcript)),
      ),
    );
    if (focus) heading.focus({ preventScroll: true });
    onLoaded(call);
    const again = settling(recording, expectReady) && retries > 0;
    if (again) {
      clearTimeout(reloadTimer);
      reloadTimer = setTimeout(() => !destroyed && !player && load({ focus: false, expectReady, retries: retries - 1 }), 250);
    }
    // the audit trail after the recording handout, so it can include this very access
    await loadRecording(call, recording, again && recording.status === 'none');
    if (!destroyed && !again && (session.role === 'auditor' || canAdminister(session.role))) await loadAudit();
  }

  /**
   * An admin action (erase, hold, release) succeeded: show the call as it is now (a hold or a release leaves the
   * recording, and a playing player, alone).
   * @param {string} message
   * @param {(call: CallRow) => boolean} until
   * @param {boolean} keepsRecording
   */
  function changed(message, until, keepsRecording) {
    announce(message);
    clearTimeout(reloadTimer);
    if (keepsRecording) {
      void refreshFacts(until);
      return;
    }
    player?.destroy();
    player = undefined;
    void load({ focus: false, until });
  }

  /**
   * Redraws the badges, the personal-data facts, the summary, the transcript and the audit trail of the call, not its
   * recording, once `until(call)` holds.
   * @param {(call: CallRow) => boolean} until
   */
  async function refreshFacts(until, retries = 20) {
    /** @type {CallRow} */
    let call;
    try {
      ({ call } = /** @type {import('./types.d.ts').CallDetail} */ (await api.get(callPath(callId))));
    } catch {
      return;
    }
    if (destroyed) return;
    if (!until(call) && retries > 0) {
      clearTimeout(reloadTimer);
      reloadTimer = setTimeout(() => !destroyed && refreshFacts(until, retries - 1), 200);
      return;
    }
    const article = root.querySelector('article.detail');
    if (!article) return;
    article.querySelector('.detail-flags')?.replaceWith(flagsView(call));
    const privacy = /** @type {HTMLElement | null} */ (article.querySelector('section.privacy'));
    // unchanged (a second redraw for the same event): keep it, with any reason form being filled in
    if (privacy && privacy.dataset.state !== privacyState(call)) privacy.replaceWith(privacySection({ api, call, role: session.role, onChanged: changed }));
    article.querySelector('section.summary > :last-child')?.replaceWith(summaryView(call.summary));
    article.querySelector('section.transcript > :last-child')?.replaceWith(transcriptView(call.transcript));
    if (session.role === 'auditor' || canAdminister(session.role)) {
      for (const old of article.querySelectorAll('section.audit')) old.remove();
      await loadAudit();
    }
  }

  void load();

  return {
    callId,
    /**
     * A live event: when this call's recording state changed and no player is open, show the new state.
     * @param {string} name
     * @param {{ callId: string }} data
     * @param {number} [position] the event's log position: the call is shown once the read model has applied it
     */
    live(name, data, position = 0) {
      if (destroyed || data.callId !== callId || name === 'call_ended') return;
      if (player && name === 'recording_ready') return;
      clearTimeout(reloadTimer);
      const caughtUp = position > 0 ? (/** @type {CallRow} */ call) => call.last_position >= position : () => true;
      if (KEEP_PLAYER.has(name)) {
        reloadTimer = setTimeout(() => !destroyed && refreshFacts(caughtUp), 150);
        return;
      }
      reloadTimer = setTimeout(() => {
        if (destroyed) return;
        player?.destroy();
        player = undefined;
        void load({ focus: false, expectReady: name === 'recording_ready', until: caughtUp });
      }, 150);
    },
    get recordingStatus() {
      return recordingState;
    },
    destroy() {
      destroyed = true;
      clearTimeout(reloadTimer);
      player?.destroy();
    },
  };
}
