import type { RecordedEvent } from './port.ts';

/** Signed URLs are bearer credentials: history shows that one was issued, never the URL itself. */
export function redactEvent(e: RecordedEvent): RecordedEvent {
  if (e.type !== 'UrlSigned') return e;
  const data = { ...(e.data as Record<string, unknown>) };
  if (typeof data.url === 'string') data.url = `${String(data.url).split('?')[0]}?[signature redacted]`;
  return { ...e, data };
}
