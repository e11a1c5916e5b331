// Pure formatting helpers of the dashboard (no DOM): imported by the page and by the Node unit tests.

/** @typedef {{ label: string, tone: 'ok' | 'pending' | 'warn' | 'bad' | 'muted' }} Badge */

/**
 * Badge of a call's recording: a label (always shown as text) and a tone (colour).
 * @param {string | null | undefined} status
 * @returns {Badge}
 */
export function recordingBadge(status, transcriptOnly = false) {
  if (transcriptOnly && !['abandoned', 'missing', 'erased', 'expired'].includes(String(status))) return { label: 'transcript only', tone: 'muted' };
  switch (status) {
    case 'erased':
      return { label: 'erased', tone: 'bad' };
    case 'expired':
      return { label: 'expired', tone: 'muted' };
    case 'uploaded':
      return { label: 'ready', tone: 'ok' };
    case 'pending':
      return { label: 'processing', tone: 'pending' };
    case 'failed':
    case 'retry_scheduled':
      return { label: 'retrying', tone: 'warn' };
    case 'abandoned':
      return { label: 'failed', tone: 'bad' };
    case 'missing':
      return { label: 'missing', tone: 'bad' };
    case 'none':
      return { label: 'no recording', tone: 'muted' };
    default:
      return { label: String(status ?? 'unknown'), tone: 'muted' };
  }
}

/**
 * What happened to a call's personal data, as badges: erased, expired (its recording or its transcript, by the
 * retention policy), held (a legal hold).
 * @param {{ erased: unknown, held: unknown, recordingExpiredAt: string | null, transcriptExpiredAt: string | null }} call
 * @returns {Array<Badge & { kind: 'erased' | 'expired' | 'held' }>}
 */
export function privacyBadges(call) {
  /** @type {Array<Badge & { kind: 'erased' | 'expired' | 'held' }>} */
  const out = [];
  if (call.erased) out.push({ kind: 'erased', label: 'erased', tone: 'bad' });
  if (call.recordingExpiredAt || call.transcriptExpiredAt) out.push({ kind: 'expired', label: 'expired', tone: 'muted' });
  if (call.held) out.push({ kind: 'held', label: 'held', tone: 'warn' });
  return out;
}

/** Live (SSE) events that change a call's privacy state: the page fetches the call again. */
export const PRIVACY_EVENTS = ['call_erased', 'call_held', 'call_released', 'recording_expired', 'transcript_expired'];

/** Texts the API puts where personal data was erased or expired. */
export const REDACTED_TEXTS = ['[erased]', '[expired]'];

/**
 * Whether a user of `role` may erase calls and set or lift holds (the server checks again).
 * @param {string} role
 */
export const canAdminister = (role) => role === 'admin' || role === 'platform-admin';

/**
 * The recording status a live (SSE) event implies, or undefined.
 * @param {string} name
 * @param {unknown} data
 * @returns {{ status: string, transcriptOnly: boolean } | undefined}
 */
export function statusFromLiveEvent(name, data) {
  switch (name) {
    case 'recording_ready':
      return { status: 'uploaded', transcriptOnly: false };
    case 'recording_failed':
      return { status: data && /** @type {{ retryable?: unknown }} */ (data).retryable === false ? 'abandoned' : 'retry_scheduled', transcriptOnly: false };
    case 'recording_abandoned':
      return { status: 'abandoned', transcriptOnly: false };
    case 'transcript_only':
      return { status: 'none', transcriptOnly: true };
    case 'recording_expired':
      return { status: 'expired', transcriptOnly: false };
    default:
      return undefined;
  }
}

/** @type {Record<string, string>} */
const REASONS = {
  no_recording_url: 'Vapi sent no recording for this call (recording may be disabled on the assistant).',
  no_recording: 'This call has no recording.',
  recording_missing: 'The recording is no longer in storage.',
  missing: 'The recording is no longer in storage.',
  abandoned: 'The recording could not be saved; retries are exhausted.',
  host_not_allowed: 'The recording was hosted somewhere callrec may not download from.',
  address_not_allowed: 'The recording host resolves to an address callrec may not download from.',
  invalid_recording_url: 'The recording URL Vapi sent is not valid.',
  recording_too_large: 'The recording is larger than the configured limit.',
  recording_http_error: 'The recording server answered with an error.',
  download_timeout: 'Downloading the recording took too long.',
  download_connection_error: 'The recording server could not be reached.',
  download_truncated: 'The recording download ended early.',
  invalid_audio: 'The downloaded file is not usable audio.',
  conversion_failed: 'The recording could not be converted.',
  storage_error: 'Storage refused the recording.',
  erased: 'The recording was erased with the rest of this call\'s personal data.',
  expired: 'The recording was deleted: the retention period of your organisation ran out.',
};

/**
 * A sentence for a transcript-only reason code (the code itself is shown beside it).
 * @param {string} code
 */
export function reasonText(code) {
  return REASONS[code] ?? 'The recording is not available.';
}

/** @param {number | null | undefined} seconds */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return '—';
  const total = Math.max(0, Math.round(Number(seconds)));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

/** @param {number | null | undefined} bytes */
export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined || !Number.isFinite(Number(bytes))) return '—';
  const n = Number(bytes);
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v >= 100 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/**
 * Local date and time of an ISO timestamp ('—' when absent or invalid).
 * @param {string | null | undefined} iso
 * @param {string} [locale]
 */
export function formatDateTime(iso, locale) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

/**
 * @param {string | null | undefined} iso
 * @param {string} [locale]
 */
export function formatTime(iso, locale) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  return new Intl.DateTimeFormat(locale, { timeStyle: 'medium' }).format(d);
}

/** @param {number | null | undefined} cost */
export function formatCost(cost) {
  if (cost === null || cost === undefined || !Number.isFinite(Number(cost))) return '—';
  return `$${Number(cost).toFixed(2)}`;
}

/** `endedReason` codes are kebab-case (`customer-ended-call`), call types camelCase (`inboundPhoneCall`): shown as words. */
/** @param {string | null | undefined} code */
export function humanize(code) {
  if (!code) return '—';
  return String(code)
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[-_.]+/g, ' ')
    .toLowerCase();
}

/** @param {string} id */
export function shortId(id) {
  const s = String(id ?? '');
  return s.length > 13 ? `${s.slice(0, 8)}…` : s;
}

/**
 * A metric of GET /api/metrics as text: ratio → %, bytes → MB …, count → integer.
 * @param {number | null | undefined} value
 * @param {string} unit
 */
export function formatMetricValue(value, unit) {
  if (value === null || value === undefined) return '—';
  if (unit === 'ratio') {
    const pct = value * 100;
    return `${pct >= 99.95 || pct === 0 ? pct.toFixed(0) : pct < 1 ? pct.toFixed(2) : pct.toFixed(1)} %`;
  }
  if (unit === 'bytes') return formatBytes(value);
  return new Intl.NumberFormat().format(value);
}

/**
 * Splits a Vapi transcript (`AI: …\nUser: …`) into turns; a line without a speaker continues the previous turn.
 * @param {string | null | undefined} transcript
 * @returns {Array<{ speaker: string, text: string }>}
 */
export function transcriptTurns(transcript) {
  if (!transcript) return [];
  /** @type {Array<{ speaker: string, text: string }>} */
  const turns = [];
  for (const raw of String(transcript).split(/\r?\n/)) {
    const line = raw.trimEnd();
    if (!line.trim()) continue;
    const m = /^\s*([A-Za-z][\w ]{0,20}?):\s?(.*)$/.exec(line);
    if (m) turns.push({ speaker: m[1], text: m[2] });
    else if (turns.length) turns[turns.length - 1].text += `\n${line}`;
    else turns.push({ speaker: '', text: line });
  }
  return turns;
}

/**
 * Claims of a JWT (unverified: for display only; the server verifies every request).
 * @param {string} token
 * @returns {Record<string, unknown> | undefined}
 */
export function decodeJwtClaims(token) {
  try {
    const part = String(token).split('.')[1];
    if (!part) return undefined;
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === 'object' ? claims : undefined;
  } catch {
    return undefined;
  }
}

/**
 * @param {unknown} claims
 * @param {string} path
 * @returns {unknown}
 */
export function readClaim(claims, path) {
  let cur = claims;
  for (const key of String(path).split('.')) {
    if (!cur || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
    cur = /** @type {Record<string, unknown>} */ (cur)[key];
  }
  return cur;
}

/** @typedef {'member' | 'auditor' | 'admin' | 'platform-admin'} Role */
/** @type {readonly unknown[]} */
const ROLES = ['member', 'auditor', 'admin', 'platform-admin'];

/**
 * Who the token says the user is, read like the server reads it (org and role claims, then app_metadata).
 * @param {string} token
 * @returns {{ userId: string, orgId: string, role: Role, expiresAtMs: number | undefined } | undefined}
 */
export function sessionFromToken(token, orgClaim = 'org_id', roleClaim = 'role') {
  const claims = decodeJwtClaims(token);
  if (!claims) return undefined;
  const org = [readClaim(claims, orgClaim), readClaim(claims, `app_metadata.${orgClaim}`)].find((v) => typeof v === 'string' && v !== '');
  const role = /** @type {Role} */ ([readClaim(claims, roleClaim), readClaim(claims, `app_metadata.${roleClaim}`)].find((r) => ROLES.includes(r)) ?? 'member');
  const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  return { userId: typeof claims.sub === 'string' ? claims.sub : '', orgId: /** @type {string | undefined} */ (org) ?? '', role, expiresAtMs: exp };
}
