// The parts of the call view that only render data: facts, transcript, event history, recording handouts and
// the transcript-only fallback.

import { h } from './dom.js';
import { formatDateTime, REDACTED_TEXTS, reasonText, transcriptTurns } from './format.js';

/** @param {Array<[string, string, string?]>} pairs term, value, title */
export function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs.map(([term, value, title]) => h('div', { class: 'fact' }, h('dt', { text: term }), h('dd', { text: value, title }))),
  );
}

/** @param {string | null} transcript */
export function transcriptView(transcript) {
  if (transcript !== null && REDACTED_TEXTS.includes(transcript)) return h('p', { class: 'redacted', text: transcript });
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

/** @param {string | null} summary */
export function summaryView(summary) {
  if (summary === null) return h('p', { class: 'muted', text: 'No summary.' });
  return h('p', { class: REDACTED_TEXTS.includes(summary) ? 'summary-text redacted' : 'summary-text', text: summary });
}

/**
 * Why there is no player: the recording was erased, or deleted by the retention policy.
 * @param {import('./types.d.ts').CallRow} call
 * @param {string} status `erased` or `expired`
 */
export function goneView(call, status) {
  const text =
    status === 'erased'
      ? `The recording was erased${call.erased ? ` on ${formatDateTime(call.erased.at)} by ${call.erased.by}` : ''}. There is nothing to play.`
      : `The recording was deleted${call.recordingExpiredAt ? ` on ${formatDateTime(call.recordingExpiredAt)}` : ''}: your organisation's retention period ran out. There is nothing to play.`;
  return h('div', { class: 'gone', role: 'status', dataset: { gone: status } }, h('p', { class: 'gone-text', text }));
}

/** Events whose reason an auditor reads in the history without opening the data. */
const REASONED = new Set(['CallErased', 'CallHeld', 'CallReleased']);

/** @param {import('./types.d.ts').CallHistory['events']} events */
export function historyView(events) {
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
            { class: REASONED.has(e.type) ? 'privacy-event' : undefined, dataset: { type: e.type } },
            h('td', { class: 'num', text: String(e.revision) }),
            h('td', { text: formatDateTime(e.storedAt) }),
            h('td', {}, h('code', { text: e.type })),
            h('td', { text: String(e.metadata?.actor ?? '—') }),
            h(
              'td',
              {},
              REASONED.has(e.type) && typeof e.data.reason === 'string' ? h('p', { class: 'history-reason', text: `Reason: ${e.data.reason}` }) : null,
              h('details', {}, h('summary', { text: 'data' }), h('pre', { class: 'json', text: JSON.stringify(e.data, null, 2) })),
            ),
          ),
        ),
      ),
    ),
  );
}

/** @param {import('./types.d.ts').DownloadRow[]} rows */
export function downloadsView(rows) {
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

/**
 * @param {string} reason
 * @param {string} [detail]
 */
export function fallbackView(reason, detail) {
  return h(
    'div',
    { class: 'fallback', role: 'status' },
    h('p', { class: 'fallback-title', text: 'No audio for this call — transcript only' }),
    h('p', {}, h('span', { class: 'fallback-reason', text: reasonText(reason) }), ' ', h('code', { class: 'reason-code', text: reason })),
    detail ? h('p', { class: 'muted', text: detail }) : null,
  );
}
