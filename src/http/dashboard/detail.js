// One call: facts, the recording (player or transcript-only fallback), summary, transcript and, for
// auditors, the call's event history and who fetched its recording.

import { ApiError, callPath } from './api.js';
import { badge, h } from './dom.js';
import {
  formatBytes,
  formatCost,
  formatDateTime,
  formatDuration,
  humanize,
  reasonText,
  recordingBadge,
  shortId,
  transcriptTurns,
} from './format.js';
import { createRecordingPlayer } from './player.js';

const NO_AUDIO = new Set(['none', 'abandoned', 'missing']);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs.map(([term, value, title]) => h('div', { class: 'fact' }, h('dt', { text: term }), h('dd', { text: value, title }))),
  );
}

function transcriptView(transcript) {
  const turns = transcriptTurns(transcript);
  if (turns.length === 0) return h('p', { class: 'muted', text: 'No transcript.' });
  return h(
    'ol',
    { class: 'turns', 'aria-label': 'Transcript' },
    turns.map((t) =>
      h(
        'li',
        { class: `turn ${/^(ai|assistant|bot)$/i.test(t.speaker) ? 'turn-ai' : 'turn-user'}` },
        t.speaker ? h('span', { class: 'speaker', text: t.speaker }) : null,
        h('span', { class: 'said', text: t.text }),
      ),
    ),
  );
}

function historyView(events) {
  if (events.length === 0) return h('p', { class: 'muted', text: 'No events.' });
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'history' },
      h('caption', { class: 'visually-hidden', text: 'Every event of this call, in order' }),
      h('thead', {}, h('tr', {}, ['#', 'Stored', 'Event', 'By', 'Data'].map((t) => h('th', { scope: 'col', text: t })))),
      h(
        'tbody',
        {},
        events.map((e) =>
          h(
            'tr',
            { dataset: { type: e.type } },
            h('td', { class: 'num', text: String(e.revision) }),
            h('td', { text: formatDateTime(e.storedAt) }),
            h('td', {}, h('code', { text: e.type })),
            h('td', { text: String(e.metadata?.actor ?? '—') }),
            h('td', {}, h('details', {}, h('summary', { text: 'data' }), h('pre', { class: 'json', text: JSON.stringify(e.data, null, 2) }))),
          ),
        ),
      ),
    ),
  );
}

function downloadsView(rows) {
  if (rows.length === 0) return h('p', { class: 'muted', text: 'Nobody has fetched this recording yet.' });
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'downloads' },
      h('caption', { class: 'visually-hidden', text: 'Recording URL handouts, newest first' }),
      h('thead', {}, h('tr', {}, ['When', 'User', 'Action', 'IP', 'Browser'].map((t) => h('th', { scope: 'col', text: t })))),
      h(
        'tbody',
        {},
        rows.map((d) =>
          h(
            'tr',
            {},
            h('td', { text: formatDateTime(d.accessed_at) }),
            h('td', { text: d.user_id }),
            h('td', { text: d.action }),
            h('td', { text: d.ip ?? '—' }),
            h('td', { class: 'ua', text: d.user_agent ?? '—', title: d.user_agent ?? undefined }),
          ),
        ),
      ),
    ),
  );
}

function fallbackView(reason, detail) {
  return h(
    'div',
    { class: 'fallback', role: 'status' },
    h('p', { class: 'fallback-title', text: 'No audio for this call — transcript only' }),
    h('p', {}, h('span', { class: 'fallback-reason', text: reasonText(reason) }), ' ', h('code', { class: 'reason-code', text: reason })),
    detail ? h('p', { class: 'muted', text: detail }) : null,
  );
}

/**
 * Renders call `callId` into `root`. `session`: { role }; `config`: the page config. Returns
 * `{ live(name, data), destroy() }`.
 */
export function createDetailView({ api, root, callId, session, config, onLoaded = () => {} }) {
  let destroyed = false;
  let player;
  let recordingBox;
  let recordingState;
  let reloadTimer;

  root.replaceChildren(h('p', { class: 'muted loading', text: 'Loading call…' }));

  async function loadRecording(call, recording, undecided = false) {
    recordingState = recording.status;
    player?.destroy();
    player = undefined;
    const info = facts([
      ['Length', formatDuration(recording.durationSeconds ?? call.duration_seconds)],
      ['Size', formatBytes(recording.bytes)],
      ['Format', call.recording_format ? `${call.recording_format}${call.recording_channels === 2 ? ' · stereo' : ''}` : '—'],
    ]);
    if (recording.available) {
      recordingBox.replaceChildren(h('p', { class: 'muted', text: 'Fetching a secure link…' }));
      for (let attempt = 0; attempt < 20 && !destroyed; attempt++) {
        try {
          const r = await api.get(callPath(callId, '/recording'));
          if (destroyed) return;
          if (r.transcriptOnly) {
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
            h('p', { class: 'error', role: 'alert', text: `The recording cannot be opened: ${err.message}` }),
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
    box.lastChild.replaceWith(history.status === 'fulfilled' ? historyView(history.value.events) : h('p', { class: 'error', text: history.reason.message }));
    access.lastChild.replaceWith(downloads.status === 'fulfilled' ? downloadsView(downloads.value.data) : h('p', { class: 'error', text: downloads.reason.message }));
  }

  // A live event can be ahead of the read model by a moment; and a call without a recording URL is `none`
  // until the pipeline records why (TranscriptOnlyFallback). Show what there is, then look again shortly.
  const settling = (r, expectReady) => (expectReady && !r.available) || (r.status === 'none' && !r.transcriptOnly);

  async function load({ focus = true, expectReady = false, retries = 20 } = {}) {
    let answer;
    try {
      answer = await api.get(callPath(callId));
    } catch (err) {
      if (destroyed) return;
      const text = err instanceof ApiError && err.status === 404 ? 'This call does not exist in your organisation.' : `The call cannot be loaded: ${err.message}`;
      root.replaceChildren(h('div', { class: 'detail' }, h('h2', { tabindex: '-1', text: 'Call not found' }), h('p', { class: 'error', role: 'alert', text })));
      if (focus) root.querySelector('h2')?.focus();
      return;
    }
    if (destroyed) return;
    const { call, recording } = answer;
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
          h('a', { href: '#/', class: 'close', 'aria-label': 'Close call details', text: '×' }),
        ),
        facts([
          ['Ended', formatDateTime(call.ended_at)],
          ['Duration', formatDuration(call.duration_seconds)],
          ['Type', humanize(call.call_type)],
          ['Customer', call.customer_number ?? '—'],
          ['Assistant', call.assistant_id ? shortId(call.assistant_id) : '—', call.assistant_id ?? undefined],
          ['Ended reason', humanize(call.ended_reason)],
          ['Cost', formatCost(call.cost)],
          ['Status', call.status],
        ]),
        h('section', { class: 'recording', 'aria-labelledby': 'recording-h' }, h('h3', { id: 'recording-h', text: 'Recording' }), recordingBox),
        h('section', { class: 'summary', 'aria-labelledby': 'summary-h' }, h('h3', { id: 'summary-h', text: 'Summary' }), h('p', { class: call.summary ? 'summary-text' : 'muted', text: call.summary ?? 'No summary.' })),
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
    if (!destroyed && !again && (session.role === 'auditor' || session.role === 'admin')) await loadAudit();
  }

  void load();

  return {
    callId,
    /** A live event: when this call's recording state changed and no player is open, show the new state. */
    live(name, data) {
      if (destroyed || data.callId !== callId || name === 'call_ended') return;
      if (player && name === 'recording_ready') return;
      clearTimeout(reloadTimer);
      reloadTimer = setTimeout(() => {
        if (destroyed) return;
        player?.destroy();
        player = undefined;
        void load({ focus: false, expectReady: name === 'recording_ready' });
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
