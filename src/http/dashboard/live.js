// Live events over Server-Sent Events (GET /api/events). EventSource cannot send the bearer token, and a JWT
// in a URL ends up in proxy logs, so every (re)connection first exchanges the token for a short-lived,
// single-use ticket (POST /api/events/ticket) and opens /api/events?ticket=…. A ticket works once, so the
// browser's own reconnect (same URL) cannot be used: on any error the page closes the stream and reconnects
// itself with a fresh ticket and `lastEventId` (the last event it saw), so nothing is missed.
// A `reset` event means the page was too far behind for a replay: it refetches its lists (`onReset`).

export const LIVE_EVENTS = [
  'call_ended', 'recording_ready', 'recording_failed', 'recording_abandoned', 'transcript_only',
  'call_erased', 'call_held', 'call_released', 'recording_expired', 'transcript_expired',
];

/**
 * `getToken()` gives the bearer token, `onEvent(name, data, id)`, `onReset()` (refetch everything),
 * `onStatus('connecting' | 'live' | 'reconnecting' | 'offline')`, `canReconnect()` (false once the session has ended).
 * @param {{
 *   getToken: () => string | null | undefined,
 *   onEvent: (name: string, data: { callId: string } & Record<string, unknown>, id: number) => void,
 *   onReset?: () => void,
 *   onStatus?: (status: 'connecting' | 'live' | 'reconnecting' | 'offline') => void,
 *   canReconnect?: () => boolean,
 * }} options
 */
export function connectLive({ getToken, onEvent, onReset = () => {}, onStatus = () => {}, canReconnect = () => true }) {
  /** @type {EventSource | undefined} */
  let source;
  let lastId = '';
  let floor = '';
  let stopped = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let retryTimer;
  let failures = 0;
  /** @type {() => void} */
  let opened = () => {};
  const firstOpen = new Promise((resolve) => (opened = () => resolve(undefined)));

  /** @returns {Promise<string>} */
  async function ticket() {
    const res = await fetch('/api/events/ticket', { method: 'POST', headers: { authorization: `Bearer ${getToken() ?? ''}`, accept: 'application/json' }, cache: 'no-store' });
    if (!res.ok) throw Object.assign(new Error(`ticket: HTTP ${res.status}`), { status: res.status });
    return (await res.json()).ticket;
  }

  /** @param {'offline' | 'reconnecting'} status */
  function retry(status) {
    onStatus(status);
    opened();
    if (stopped || !canReconnect()) return;
    failures += 1;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(open, Math.min(30_000, 500 * 2 ** Math.min(failures, 6)));
  }

  async function open() {
    if (stopped) return;
    onStatus(failures ? 'reconnecting' : 'connecting');
    let t;
    try {
      t = await ticket();
    } catch {
      return retry('offline');
    }
    if (stopped) return;
    const params = new URLSearchParams({ ticket: t });
    // Resume after the last event seen, or (nothing seen yet, after a drop) after the newest the page has shown.
    const resumeAfter = lastId || (failures ? floor : '');
    if (resumeAfter) params.set('lastEventId', resumeAfter);
    const s = new EventSource(`/api/events?${params}`);
    source = s;
    s.addEventListener('open', () => {
      failures = 0;
      onStatus('live');
      opened();
    });
    s.addEventListener('error', () => {
      if (stopped || source !== s) return;
      // The ticket is spent: never let the browser retry this URL; reconnect with a new ticket.
      s.close();
      retry(failures ? 'offline' : 'reconnecting');
    });
    s.addEventListener('reset', (/** @type {MessageEvent} */ e) => {
      if (e.lastEventId) lastId = e.lastEventId;
      onReset();
    });
    for (const name of LIVE_EVENTS) {
      s.addEventListener(name, (/** @type {MessageEvent} */ e) => {
        if (e.lastEventId) lastId = e.lastEventId;
        /** @type {any} */
        let data;
        try {
          data = JSON.parse(e.data);
        } catch {
          return;
        }
        if (data && typeof data.callId === 'string') onEvent(name, data, Number(e.lastEventId) || 0);
      });
    }
  }

  void open();
  return {
    /** Resolves once the first connection is open (or has failed): load lists after this, and no event is lost. */
    ready: () => Promise.race([firstOpen, new Promise((r) => setTimeout(r, 3000))]),
    /**
     * The newest log position the page has shown (e.g. the largest `last_position` of the listed calls): if the
     * stream drops before any event arrived, it resumes after this position instead of "from now".
     */
    /** @param {number} position */
    setFloor(position) {
      if (Number.isSafeInteger(position) && position > 0 && (!floor || position > Number(floor))) floor = String(position);
    },
    close() {
      stopped = true;
      clearTimeout(retryTimer);
      source?.close();
    },
  };
}
