import { z } from 'zod';
import type { Logger } from '../log.ts';
import type { ValueResult } from '../result.ts';
import { createVapiRequester, type VapiRequester } from './vapiHttp.ts';
import { describeZodIssue } from '../zodIssues.ts';

/**
 * The Vapi REST client: the assistants it needs to keep recording on, and the authenticated
 * recording download URL of a call.
 *
 * Error style:
 * - `getAssistant`, `updateAssistant` and `listAssistantsPage` never throw for an HTTP or network
 *   problem: they resolve to `{ ok: true, value } | { ok: false, error: VapiError }`.
 * - `listAssistants` is an async iterable, which cannot yield a result union, so it throws a
 *   `VapiApiError` (carrying the same `VapiError` in `.error`) when a page cannot be read.
 *
 * 429 is retried after `Retry-After` (delta seconds or an HTTP date) or, without that header, after
 * an exponential backoff with jitter; 5xx, network errors and timeouts are retried the same way, up
 * to `maxRetries` retries. Every other 4xx is answered at once as an error.
 */

export const DEFAULT_VAPI_BASE_URL = 'https://api.vapi.ai';
/** The largest page Vapi serves for `GET /assistant`. */
export const MAX_ASSISTANT_PAGE_SIZE = 1000;

export type RecordingChannel = 'mono' | 'stereo';

export type VapiErrorCode =
  | 'bad_request' // 400 / 422 or an argument we refuse to send
  | 'unauthorized' // 401: the API key is wrong or missing
  | 'forbidden' // 403
  | 'not_found' // 404
  | 'rate_limited' // 429 after the retries, or a Retry-After longer than we are willing to wait
  | 'server_error' // 5xx after the retries
  | 'http_error' // any other non-2xx answer
  | 'network_error' // the request did not get an answer (after the retries)
  | 'timeout' // no answer within timeoutMs (after the retries)
  | 'invalid_response' // 2xx, but the body is not what Vapi documents
  | 'pagination_stalled'; // listing would not advance (or would skip assistants), so it stopped

export interface VapiError {
  code: VapiErrorCode;
  message: string;
  /** HTTP status of the last answer, when there was one. */
  status?: number;
  /** Whether trying again later may succeed. */
  retryable: boolean;
  /** How many HTTP requests were made for this operation. */
  attempts?: number;
}

export type VapiResult<T> = ValueResult<T, VapiError>;

/** Thrown by `listAssistants` only; carries the same `VapiError` the other methods return. */
export class VapiApiError extends Error {
  readonly code: VapiErrorCode;
  readonly status?: number;
  readonly retryable: boolean;
  readonly error: VapiError;
  constructor(error: VapiError) {
    super(error.message);
    this.name = 'VapiApiError';
    this.code = error.code;
    this.status = error.status;
    this.retryable = error.retryable;
    this.error = error;
  }
}

// ---- response schemas (lenient: unknown fields pass through untouched) ----

export const artifactPlanSchema = z.looseObject({
  recordingEnabled: z.boolean().nullish(),
});

export const assistantSchema = z.looseObject({
  id: z.string().min(1),
  orgId: z.string().optional(),
  name: z.string().nullish(),
  createdAt: z.string().min(1),
  updatedAt: z.string().optional(),
  artifactPlan: artifactPlanSchema.nullish(),
});

export type Assistant = z.infer<typeof assistantSchema>;
export type ArtifactPlan = z.infer<typeof artifactPlanSchema>;

/** Vapi answers `GET /assistant` with a bare array; a `{ results: [...] }` wrapper is accepted too. */
const assistantListSchema = z.union([
  z.array(assistantSchema),
  z.looseObject({ results: z.array(assistantSchema) }).transform((body) => body.results),
]);

/** The body of `PATCH /assistant/:id`: only the fields to change. */
export type AssistantPatch = { artifactPlan?: Record<string, unknown> } & Record<string, unknown>;

export interface AssistantPageQuery {
  /** 1..1000; default 1000. */
  limit?: number;
  createdAtLt?: string;
  createdAtLe?: string;
  createdAtGt?: string;
  createdAtGe?: string;
}

export interface RecordingRequest {
  /** `${baseUrl}/call/${encodeURIComponent(callId)}/mono-recording` (or stereo-recording). */
  url: string;
  /** The headers to send with it (`authorization: Bearer …`). Do not log them. */
  headers: Record<string, string>;
}

export interface VapiClientOptions {
  /** Default https://api.vapi.ai (trailing slashes are dropped). */
  baseUrl?: string;
  apiKey: string;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Retries after a 429, a 5xx, a network error or a timeout; default 5. */
  maxRetries?: number;
  logger?: Logger;
  /** Page size for listAssistants; clamped to 1..1000; default 1000. */
  pageSize?: number;
  /** Deadline of one HTTP request including its body; default 30000. */
  timeoutMs?: number;
  /** First backoff step when no Retry-After is given; default 500. Doubles each retry. */
  baseDelayMs?: number;
  /** Ceiling of one backoff step; default 30000. */
  maxDelayMs?: number;
  /** A Retry-After asking for a longer wait than this is not waited out: the call fails as rate_limited. Default 120000. */
  maxRetryAfterMs?: number;
  /** Clock for Retry-After HTTP dates; default Date.now. */
  now?: () => number;
  /** Jitter source in [0, 1); default Math.random. */
  random?: () => number;
}

export interface VapiClient {
  readonly baseUrl: string;
  /** Every assistant, newest first, each exactly once. Throws `VapiApiError`. */
  listAssistants(options?: { pageSize?: number }): AsyncIterable<Assistant>;
  /** One `GET /assistant` page, as Vapi returns it. */
  listAssistantsPage(query?: AssistantPageQuery): Promise<VapiResult<Assistant[]>>;
  getAssistant(id: string): Promise<VapiResult<Assistant>>;
  /** `PATCH /assistant/:id` with `patch` as JSON; resolves to the updated assistant. */
  updateAssistant(id: string, patch: AssistantPatch): Promise<VapiResult<Assistant>>;
  /** Where to GET a call's recording (Vapi answers with a redirect to a short-lived URL) and with which headers. */
  recordingUrl(callId: string, channel?: RecordingChannel): RecordingRequest;
  /**
   * `DELETE /call/:id/data`: Vapi deletes its copy of the call's data (recording, transcript, analysis). A 404
   * (Vapi holds nothing of the call) resolves to `{ alreadyGone: true }`.
   */
  deleteCallData(callId: string): Promise<VapiResult<{ alreadyGone: boolean }>>;
  /** The retrying JSON request other Vapi resources (calls: listCalls.ts) are read through. */
  readonly http: VapiRequester;
}

function clampPageSize(n: number | undefined): number {
  if (n === undefined || !Number.isFinite(n)) return MAX_ASSISTANT_PAGE_SIZE;
  return Math.min(MAX_ASSISTANT_PAGE_SIZE, Math.max(1, Math.floor(n)));
}

export { parseRetryAfter } from './vapiHttp.ts';

export function createVapiClient(options: VapiClientOptions): VapiClient {
  if (typeof options.apiKey !== 'string' || options.apiKey.trim() === '') {
    throw new TypeError('createVapiClient: apiKey is required');
  }
  const baseUrl = (options.baseUrl ?? DEFAULT_VAPI_BASE_URL).replace(/\/+$/, '');
  const defaultPageSize = clampPageSize(options.pageSize);
  const http = createVapiRequester(baseUrl, options);
  const { requestJson, authHeaders } = http;

  function invalid(path: string, issue: z.ZodError): VapiError {
    const first = issue.issues[0];
    const where = first ? describeZodIssue(first, { root: '(root)' }) : 'unexpected shape';
    return { code: 'invalid_response', message: `Vapi's answer to ${path} does not look like an assistant (${where})`, retryable: false };
  }

  async function listAssistantsPage(query: AssistantPageQuery = {}): Promise<VapiResult<Assistant[]>> {
    const params = new URLSearchParams({ limit: String(clampPageSize(query.limit)) });
    for (const key of ['createdAtLt', 'createdAtLe', 'createdAtGt', 'createdAtGe'] as const) {
      const v = query[key];
      if (v !== undefined) params.set(key, v);
    }
    const path = `/assistant?${params.toString()}`;
    const res = await requestJson('GET', path);
    if (!res.ok) return res;
    const parsed = assistantListSchema.safeParse(res.value);
    if (!parsed.success) return { ok: false, error: invalid('GET /assistant', parsed.error) };
    return { ok: true, value: parsed.data };
  }

  function checkId(what: string, id: string): VapiError | undefined {
    if (typeof id !== 'string' || id.trim() === '') {
      return { code: 'bad_request', message: `${what}: the id is empty`, retryable: false, attempts: 0 };
    }
    return undefined;
  }

  async function getAssistant(id: string): Promise<VapiResult<Assistant>> {
    const bad = checkId('getAssistant', id);
    if (bad) return { ok: false, error: bad };
    const path = `/assistant/${encodeURIComponent(id)}`;
    const res = await requestJson('GET', path);
    if (!res.ok) return res;
    const parsed = assistantSchema.safeParse(res.value);
    if (!parsed.success) return { ok: false, error: invalid(`GET ${path}`, parsed.error) };
    return { ok: true, value: parsed.data };
  }

  async function updateAssistant(id: string, patch: AssistantPatch): Promise<VapiResult<Assistant>> {
    const bad = checkId('updateAssistant', id);
    if (bad) return { ok: false, error: bad };
    if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
      return { ok: false, error: { code: 'bad_request', message: 'updateAssistant: the patch must be an object', retryable: false, attempts: 0 } };
    }
    const path = `/assistant/${encodeURIComponent(id)}`;
    const res = await requestJson('PATCH', path, patch);
    if (!res.ok) return res;
    const parsed = assistantSchema.safeParse(res.value);
    if (!parsed.success) return { ok: false, error: invalid(`PATCH ${path}`, parsed.error) };
    return { ok: true, value: parsed.data };
  }

  /**
   * Pages newest → oldest with `createdAtLt` = the oldest `createdAt` of the previous page, until a
   * page is shorter than the page size. Because `createdAtLt` would skip assistants that share the
   * boundary millisecond with the oldest one of a full page (Vapi serialises createdAt to the
   * millisecond; it may store more), every full page is followed by one request for
   * `createdAtGe = boundary, createdAtLt = boundary + 1 ms` that picks those up; ids are de-duplicated.
   */
  async function* listAssistants(opts: { pageSize?: number } = {}): AsyncGenerator<Assistant> {
    const limit = clampPageSize(opts.pageSize ?? defaultPageSize);
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (;;) {
      const page = await listAssistantsPage({ limit, createdAtLt: cursor });
      if (!page.ok) throw new VapiApiError(page.error);
      let fresh = 0;
      for (const a of page.value) {
        if (seen.has(a.id)) continue;
        seen.add(a.id);
        fresh++;
        yield a;
      }
      if (page.value.length < limit) return;

      let oldest: string | undefined;
      let oldestMs = Infinity;
      for (const a of page.value) {
        const ms = Date.parse(a.createdAt);
        if (Number.isNaN(ms)) {
          throw new VapiApiError({ code: 'invalid_response', message: `assistant ${a.id} has an unreadable createdAt "${a.createdAt}"`, retryable: false });
        }
        if (ms < oldestMs) {
          oldestMs = ms;
          oldest = a.createdAt;
        }
      }
      if (fresh === 0 || (cursor !== undefined && oldestMs >= Date.parse(cursor))) {
        throw new VapiApiError({
          code: 'pagination_stalled',
          message: `listing assistants does not advance past createdAt ${cursor ?? '(start)'}: Vapi ignored createdAtLt`,
          retryable: false,
        });
      }
      const ties = await listAssistantsPage({ limit, createdAtGe: oldest, createdAtLt: new Date(oldestMs + 1).toISOString() });
      if (!ties.ok) throw new VapiApiError(ties.error);
      if (ties.value.length >= limit) {
        throw new VapiApiError({
          code: 'pagination_stalled',
          message: `${ties.value.length} or more assistants share createdAt ${oldest}; they cannot all be listed with a page of ${limit}`,
          retryable: false,
        });
      }
      for (const a of ties.value) {
        if (seen.has(a.id)) continue;
        seen.add(a.id);
        yield a;
      }
      cursor = oldest;
    }
  }

  function recordingUrl(callId: string, channel: RecordingChannel = 'mono'): RecordingRequest {
    const suffix = channel === 'stereo' ? 'stereo-recording' : 'mono-recording';
    return { url: `${baseUrl}/call/${encodeURIComponent(callId)}/${suffix}`, headers: authHeaders() };
  }

  async function deleteCallData(callId: string): Promise<VapiResult<{ alreadyGone: boolean }>> {
    const bad = checkId('deleteCallData', callId);
    if (bad) return { ok: false, error: bad };
    const res = await requestJson('DELETE', `/call/${encodeURIComponent(callId)}/data`);
    if (res.ok) return { ok: true, value: { alreadyGone: false } };
    if (res.error.code === 'not_found') return { ok: true, value: { alreadyGone: true } };
    // An answer that is not JSON still means Vapi accepted the deletion.
    if (res.error.code === 'invalid_response' && res.error.status !== undefined && res.error.status < 300) return { ok: true, value: { alreadyGone: false } };
    return res;
  }

  return { baseUrl, http, listAssistants, listAssistantsPage, getAssistant, updateAssistant, recordingUrl, deleteCallData };
}
