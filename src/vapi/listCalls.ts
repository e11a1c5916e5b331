import type { VapiClient, VapiError, VapiResult } from './restClient.ts';
import { callListSchema, callSchema, type VapiCall } from './calls.ts';
import { describeZodIssue } from '../zodIssues.ts';

/**
 * Vapi's call list: `GET /call` (a bare JSON array, newest `createdAt` first, `limit` ≤ 1000, filters
 * `createdAtGt/Ge/Lt/Le` and `updatedAtGt/Ge/Lt/Le`) and `GET /call/:id`, through the client's retrying
 * HTTP part (429 after Retry-After, 5xx, timeouts).
 */

export const MAX_CALL_PAGE_SIZE = 1000;

export interface CallPageQuery {
  limit?: number;
  createdAtGt?: string;
  createdAtGe?: string;
  createdAtLt?: string;
  createdAtLe?: string;
  updatedAtGt?: string;
  updatedAtGe?: string;
  updatedAtLt?: string;
  updatedAtLe?: string;
}

const FILTERS = ['createdAtGt', 'createdAtGe', 'createdAtLt', 'createdAtLe', 'updatedAtGt', 'updatedAtGe', 'updatedAtLt', 'updatedAtLe'] as const;

function clamp(n: number | undefined): number {
  if (n === undefined || !Number.isFinite(n)) return MAX_CALL_PAGE_SIZE;
  return Math.min(MAX_CALL_PAGE_SIZE, Math.max(1, Math.floor(n)));
}

function invalid(what: string, message: string): VapiError {
  return { code: 'invalid_response', message: `Vapi's answer to ${what} does not look like a call (${message})`, retryable: false };
}

export async function listCallsPage(client: VapiClient, query: CallPageQuery = {}): Promise<VapiResult<VapiCall[]>> {
  const params = new URLSearchParams({ limit: String(clamp(query.limit)) });
  for (const key of FILTERS) {
    const v = query[key];
    if (v !== undefined) params.set(key, v);
  }
  const res = await client.http.requestJson('GET', `/call?${params.toString()}`);
  if (!res.ok) return res;
  const parsed = callListSchema.safeParse(res.value);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    return { ok: false, error: invalid('GET /call', i ? describeZodIssue(i, { root: '(root)' }) : 'unexpected shape') };
  }
  return { ok: true, value: parsed.data };
}

export async function getCall(client: VapiClient, id: string): Promise<VapiResult<VapiCall>> {
  if (typeof id !== 'string' || id.trim() === '') return { ok: false, error: { code: 'bad_request', message: 'getCall: the id is empty', retryable: false, attempts: 0 } };
  const path = `/call/${encodeURIComponent(id)}`;
  const res = await client.http.requestJson('GET', path);
  if (!res.ok) return res;
  const parsed = callSchema.safeParse(res.value);
  if (!parsed.success) return { ok: false, error: invalid(`GET ${path}`, parsed.error.issues[0]?.message ?? 'unexpected shape') };
  return { ok: true, value: parsed.data };
}

export type CallPage = { ok: true; calls: VapiCall[] } | { ok: false; error: VapiError };

/**
 * Every call matching `filters`, one page at a time (newest first, each call once). Pages with
 * `createdAtLt` = the oldest `createdAt` of a full page; as for assistants, calls sharing that boundary
 * millisecond would be skipped, so every full page is followed by one `createdAtGe = boundary,
 * createdAtLt = boundary + 1 ms` request that picks them up. A failed page ends the listing with its error
 * (after the client's retries): the caller then knows it has not seen everything.
 */
export async function* listCalls(client: VapiClient, filters: Omit<CallPageQuery, 'limit'>, pageSize?: number): AsyncGenerator<CallPage> {
  const limit = clamp(pageSize);
  const seen = new Set<string>();
  let cursor = filters.createdAtLt;
  const fail = (message: string): CallPage => ({ ok: false, error: { code: 'pagination_stalled', message, retryable: false } });
  for (;;) {
    const page = await listCallsPage(client, { ...filters, limit, createdAtLt: cursor });
    if (!page.ok) return yield page;
    const fresh = page.value.filter((c) => !seen.has(c.id));
    for (const c of fresh) seen.add(c.id);
    if (page.value.length < limit) {
      yield { ok: true, calls: fresh };
      return;
    }
    let oldestMs = Infinity;
    let oldest = '';
    for (const c of page.value) {
      const ms = Date.parse(c.createdAt);
      if (Number.isNaN(ms)) return yield { ok: false, error: invalid('GET /call', `call ${c.id} has an unreadable createdAt "${c.createdAt}"`) };
      if (ms < oldestMs) [oldestMs, oldest] = [ms, c.createdAt];
    }
    if (fresh.length === 0 || (cursor !== undefined && oldestMs >= Date.parse(cursor))) {
      return yield fail(`listing calls does not advance past createdAt ${cursor ?? '(start)'}: Vapi ignored createdAtLt`);
    }
    const ties = await listCallsPage(client, { ...filters, limit, createdAtGe: oldest, createdAtLt: new Date(oldestMs + 1).toISOString() });
    if (!ties.ok) return yield ties;
    if (ties.value.length >= limit) return yield fail(`${ties.value.length} or more calls share createdAt ${oldest}; they cannot all be listed with a page of ${limit}`);
    for (const c of ties.value) {
      if (seen.has(c.id)) continue;
      seen.add(c.id);
      fresh.push(c);
    }
    yield { ok: true, calls: fresh };
    cursor = oldest;
  }
}
