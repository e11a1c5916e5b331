import { stripBrackets } from './addressPolicy.ts';

/**
 * Host allow-list for recording downloads. An entry is an exact host name or IP (`storage.vapi.ai`,
 * `127.0.0.1`, `[::1]`), a wildcard `*.example.com` (any sub-domain at any depth, not the apex itself), or `*`
 * (any host; the address policy still applies). Matching ignores case, a trailing dot and the port.
 */
export function normaliseHost(host: string): string {
  let h = stripBrackets(host.trim().toLowerCase());
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

export function isHostAllowed(host: string, allowedHosts: readonly string[]): boolean {
  const h = normaliseHost(host);
  if (h === '') return false;
  for (const raw of allowedHosts) {
    const entry = normaliseHost(raw);
    if (entry === '*') return true;
    if (entry.startsWith('*.')) {
      const suffix = entry.slice(1); // ".example.com"
      if (h.length > suffix.length && h.endsWith(suffix)) return true;
    } else if (entry === h) {
      return true;
    }
  }
  return false;
}
