// Live events over Server-Sent Events (GET /api/events). EventSource reconnects by itself after a dropped
// connection and sends Last-Event-ID, so nothing is missed; when the server refuses a reconnect (the stream is
// CLOSED) we reconnect ourselves with `lastEventId`, with back-off.

export const LIVE_EVENTS = ['call_ended', 'recording_ready', 'recording_failed', 'recording_abandoned', 'transcript_only'];

/**
 * `getToken()` for the `access_token` query parameter (EventSource cannot set headers; a query parameter keeps
 * each tab on its own token), `onEvent(name, data, id)`, `onStatus('connecting' | 'live' | 'reconnecting' |
 * 'offline')`, `canReconnect()` (false once the session has ended).
 * @param {{
 *   getToken: () => string | null | undefined,
 *   onEvent: (name: string, data: { callId: string } & Record<string, unknown>, id: number) => void,
 *   onStatus?: (status: 'connecting' | 'live' | 'reconnecting' | 'offline') => void,
 *   canReconnect?: () => boolean,
 * }} options
 */
export function connectLive({ getToken, onEvent, onStatus = () => {}, canReconnect = () => true }) {
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

  function open() {
    if (stopped) return;
    const params = new URLSearchParams({ access_token: getToken() ?? '' });
    if (lastId) params.set('lastEventId', lastId);
    source = new EventSource(`/api/events?${params}`);
    onStatus('connecting');
    source.addEventListener('open', () => {
      failures = 0;
      onStatus('live');
      opened();
    });
    source.addEventListener('error', () => {
      if (stopped) return;
      if (source?.readyState === EventSource.CONNECTING && !lastId && floor) {
        // Nothing received yet, so the browser would reconnect without Last-Event-ID and miss what happens
        // meanwhile: reconnect ourselves, resuming after the newest position the page has shown.
        source?.close();
        lastId = floor;
        onStatus('reconnecting');
        clearTimeout(retryTimer);
        retryTimer = setTimeout(open, 1000);
        return;
      }
      if (source?.readyState === EventSource.CLOSED) {
        onStatus('offline');
        opened();
        if (!canReconnect()) return;
        failures += 1;
        clearTimeout(retryTimer);
        retryTimer = setTimeout(open, Math.min(30_000, 1000 * 2 ** Math.min(failures, 5)));
      } else {
        onStatus('reconnecting');
      }
    });
    for (const name of LIVE_EVENTS) {
      source.addEventListener(name, (e) => {
        if (e.lastEventId) lastId = e.lastEventId;
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

  open();
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
