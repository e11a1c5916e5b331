import { ERASED } from '../privacy/crypto.ts';
import type { RecordedEvent } from './port.ts';

/** What a recording's source URL reads as in history: the copy at Vapi is fetched by callrec, never handed out. */
export const WITHHELD = '[withheld]';

/** Source recording URLs of a CallEnded (Vapi's copy: whoever holds one can fetch the audio without an audit event). */
const SOURCE_URL_FIELDS = ['recordingUrl', 'stereoRecordingUrl'] as const;

/**
 * An event as history shows it (API, `?asOf=`, `callrec history`), for every role:
 * - signed URLs are bearer credentials: history shows that one was issued, never the URL itself;
 * - a recording's source URL is replaced by `[withheld]` (null stays null: there was none; `[erased]` stays).
 */
export function redactEvent(e: RecordedEvent): RecordedEvent {
  if (e.type === 'UrlSigned') {
    const data = { ...(e.data as Record<string, unknown>) };
    if (typeof data.url === 'string') data.url = `${String(data.url).split('?')[0]}?[signature redacted]`;
    return { ...e, data };
  }
  if (e.type === 'CallEnded') {
    const data = { ...(e.data as Record<string, unknown>) };
    for (const f of SOURCE_URL_FIELDS) {
      if (typeof data[f] === 'string' && data[f] !== ERASED) data[f] = WITHHELD;
    }
    return { ...e, data };
  }
  return e;
}
