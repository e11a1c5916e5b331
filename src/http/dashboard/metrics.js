// The metrics panel: GET /api/metrics (last 30 days of the caller's org).

import { h } from './dom.js';
import { formatBytes, formatMetricValue } from './format.js';

/** @type {Record<string, string>} */
const LABELS = {
  upload_success_rate: 'Upload success',
  url_expiry_errors: 'Expired-link errors',
  orphaned_recordings: 'Orphaned recordings',
  average_recording_size: 'Average recording size',
  download_count: 'Downloads',
  failed_upload_retry_rate: 'Upload retry rate',
  calls_recovered: 'Missed webhooks recovered',
};

/** @type {Record<string, string>} */
const COMPARE = { '>=': '≥', '<=': '≤', '<': '<' };

/** @param {string} name */
function label(name) {
  if (LABELS[name]) return LABELS[name];
  const words = String(name).replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * @typedef {object} Metric one metric of GET /api/metrics
 * @property {string} name
 * @property {string} description
 * @property {number | null} value
 * @property {string} unit
 * @property {number | null} target
 * @property {string | null} comparison
 * @property {boolean | null} met
 */

/** @param {Metric} m */
function card(m) {
  const status = m.met === null ? 'none' : m.met ? 'met' : 'missed';
  const target = m.target === null || m.comparison === null ? '' : `target ${COMPARE[m.comparison] ?? m.comparison} ${formatMetricValue(m.target, m.unit)}`;
  return h(
    'li',
    { class: `metric metric-${status}`, dataset: { metric: m.name } },
    h('span', { class: 'metric-name', title: m.description, text: label(m.name) }),
    h('span', { class: 'metric-value', text: formatMetricValue(m.value, m.unit) }),
    h(
      'span',
      { class: 'metric-target' },
      target,
      m.met === null ? null : h('span', { class: `met met-${status}`, text: m.met ? ' ✓ on target' : ' ✗ off target' }),
    ),
  );
}

/**
 * @param {Array<{ day: string, calls: number }>} days
 * @param {string} from
 * @param {string} to
 */
function bars(days, from, to) {
  const byDay = new Map(days.map((d) => [d.day, d]));
  const list = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    list.push({ day, calls: byDay.get(day)?.calls ?? 0 });
  }
  const max = Math.max(1, ...list.map((d) => d.calls));
  return h(
    'div',
    { class: 'bars', role: 'img', 'aria-label': `Calls per day from ${from} to ${to}` },
    list.map((d) => {
      const bar = h('span', { class: 'bar', title: `${d.day}: ${d.calls} call${d.calls === 1 ? '' : 's'}` });
      bar.style.height = `${Math.max(d.calls ? 8 : 2, Math.round((d.calls / max) * 100))}%`;
      return bar;
    }),
  );
}

/**
 * @param {import('./api.js').Api} api
 * @param {HTMLElement} root
 */
export async function loadMetrics(api, root) {
  try {
    const r = await api.get('/api/metrics');
    const t = r.totals;
    root.replaceChildren(
      h(
        'div',
        { class: 'metrics-grid' },
        h(
          'ul',
          { class: 'totals', 'aria-label': 'Totals' },
          [
            ['Calls', new Intl.NumberFormat().format(t.calls)],
            ['Recorded', new Intl.NumberFormat().format(t.recordedCalls)],
            ['Minutes', new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 }).format(t.minutes)],
            ['Stored', formatBytes(t.bytes)],
            ['Recovered', new Intl.NumberFormat().format(t.recoveredCalls ?? 0)],
          ].map(([k, v]) => h('li', {}, h('span', { class: 'total-value', text: v }), h('span', { class: 'total-name', text: k }))),
        ),
        bars(r.days, r.from, r.to),
      ),
      h('ul', { class: 'metrics', 'aria-label': 'Success metrics' }, r.metrics.map(card)),
    );
  } catch (err) {
    root.replaceChildren(h('p', { class: 'error', text: `Metrics cannot be loaded: ${/** @type {Error} */ (err).message}` }));
  }
}
