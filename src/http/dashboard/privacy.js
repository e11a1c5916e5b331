// What happened to a call's personal data (erased, held, expired: who, when, why) and, for admins, the Erase,
// Hold and Release actions. Each action asks for a reason in a small form and calls the API; the server checks
// the role again and records the reason in the call's history.

import { ApiError, callPath } from './api.js';
import { h } from './dom.js';
import { facts } from './detailViews.js';
import { canAdminister, formatDateTime } from './format.js';

/** The longest reason the API accepts. */
const MAX_REASON = 1000;

/**
 * @typedef {'erase' | 'hold' | 'release'} Action
 * @type {Record<Action, { button: string, heading: string, submit: string, warning: string, method: 'del' | 'post', path: string, done: string, shows: (call: import('./types.d.ts').CallRow) => boolean, keepsRecording: boolean }>}
 */
const ACTIONS = {
  erase: {
    button: 'Erase…',
    heading: 'Erase this call',
    submit: 'Erase call',
    warning: "This deletes the recording, the transcript, the summary and the caller's number for good. The history keeps who erased the call, when and why.",
    method: 'del',
    path: '',
    done: 'Call erased',
    shows: (call) => call.erased !== null,
    keepsRecording: false,
  },
  hold: {
    button: 'Hold…',
    heading: 'Put this call on hold',
    submit: 'Put on hold',
    warning: 'A held call is kept as it is: retention and erasure skip it until the hold is released.',
    method: 'post',
    path: '/hold',
    done: 'Call put on hold',
    shows: (call) => call.held !== null,
    keepsRecording: true,
  },
  release: {
    button: 'Release hold…',
    heading: 'Release the hold',
    submit: 'Release hold',
    warning: 'Retention and erasure apply to this call again.',
    method: 'del',
    path: '/hold',
    done: 'Hold released',
    shows: (call) => call.held === null,
    keepsRecording: true,
  },
};

/**
 * What the "Personal data" section shows of a call, as one string: a redraw with the same state can keep the section
 * (and a reason form an admin is filling in).
 * @param {import('./types.d.ts').CallRow} call
 */
export function privacyState(call) {
  return JSON.stringify([call.erased, call.held, call.recordingExpiredAt, call.transcriptExpiredAt]);
}

/**
 * The "Personal data" section of a call.
 * @param {{
 *   api: import('./api.js').Api,
 *   call: import('./types.d.ts').CallRow,
 *   role: string,
 *   onChanged: (message: string, until: (call: import('./types.d.ts').CallRow) => boolean, keepsRecording: boolean) => void,
 * }} options
 */
export function privacySection({ api, call, role, onChanged }) {
  /** @type {Array<[string, string, string?]>} */
  const rows = [];
  if (call.erased) rows.push(['Erased', formatDateTime(call.erased.at), call.erased.at], ['Erased by', call.erased.by], ['Erasure reason', call.erased.reason]);
  if (call.held) rows.push(['On hold since', formatDateTime(call.held.at), call.held.at], ['Held by', call.held.by], ['Hold reason', call.held.reason]);
  if (call.recordingExpiredAt) rows.push(['Recording expired', formatDateTime(call.recordingExpiredAt), call.recordingExpiredAt]);
  if (call.transcriptExpiredAt) rows.push(['Transcript expired', formatDateTime(call.transcriptExpiredAt), call.transcriptExpiredAt]);
  const section = h(
    'section',
    { class: 'privacy', 'aria-labelledby': 'privacy-h', dataset: { state: privacyState(call) } },
    h('h3', { id: 'privacy-h', text: 'Personal data' }),
    rows.length ? facts(rows) : h('p', { class: 'muted', text: 'Not erased, not on hold, nothing expired.' }),
  );
  if (canAdminister(role)) section.append(actionsView(api, call, onChanged));
  return section;
}

/**
 * @param {import('./api.js').Api} api
 * @param {import('./types.d.ts').CallRow} call
 * @param {(message: string, until: (call: import('./types.d.ts').CallRow) => boolean, keepsRecording: boolean) => void} onChanged
 */
function actionsView(api, call, onChanged) {
  const formBox = h('div', { class: 'privacy-form-box' });
  /** @type {Action[]} */
  const offered = call.erased ? [] : call.held ? ['release', 'erase'] : ['erase', 'hold'];
  const bar = h(
    'div',
    { class: 'privacy-actions' },
    offered.map((action) =>
      h('button', {
        type: 'button',
        class: action === 'erase' ? 'danger' : 'secondary',
        dataset: { action },
        // a held call cannot be erased: the server refuses it (409 call_held); say so here
        disabled: action === 'erase' && Boolean(call.held),
        title: action === 'erase' && call.held ? 'Release the hold before erasing this call' : undefined,
        text: ACTIONS[action].button,
        onclick: () => formBox.replaceChildren(reasonForm(api, call.id, action, () => formBox.replaceChildren(), onChanged)),
      }),
    ),
    call.held ? h('span', { class: 'muted hint', text: 'A held call cannot be erased until the hold is released.' }) : null,
  );
  return h('div', { class: 'privacy-admin' }, bar, formBox);
}

/**
 * The small form that asks for a reason and runs one action.
 * @param {import('./api.js').Api} api
 * @param {string} callId
 * @param {Action} action
 * @param {() => void} close
 * @param {(message: string, until: (call: import('./types.d.ts').CallRow) => boolean, keepsRecording: boolean) => void} onChanged
 */
function reasonForm(api, callId, action, close, onChanged) {
  const spec = ACTIONS[action];
  const id = `reason-${action}`;
  const reason = h('textarea', { id, name: 'reason', rows: '2', required: true, maxlength: String(MAX_REASON), autocomplete: 'off' });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: action === 'erase' ? 'danger' : undefined, text: spec.submit });
  const form = h(
    'form',
    { class: 'privacy-form card', dataset: { action }, 'aria-label': spec.heading },
    h('h4', { text: spec.heading }),
    h('p', { class: 'warning', text: spec.warning }),
    h('label', { for: id, text: 'Reason (kept in the history)' }),
    reason,
    error,
    h('div', { class: 'row' }, submit, h('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: close })),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = reason.value.trim();
    if (!text) {
      error.textContent = 'Give a reason.';
      error.hidden = false;
      reason.focus();
      return;
    }
    submit.disabled = true;
    error.hidden = true;
    try {
      await api[spec.method](callPath(callId, spec.path), { reason: text });
      close();
      onChanged(spec.done, spec.shows, spec.keepsRecording);
    } catch (err) {
      error.textContent = err instanceof ApiError && err.status !== 0 ? `callrec refused: ${err.message}` : /** @type {Error} */ (err).message;
      error.hidden = false;
      submit.disabled = false;
    }
  });
  queueMicrotask(() => reason.focus());
  return form;
}
