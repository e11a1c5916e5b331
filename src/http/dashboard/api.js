// The /api client: bearer token on every request, errors as ApiError with the catalogue code.

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0: callrec could not be reached)
   * @param {string | undefined} code the catalogue code of the error
   * @param {string} [message]
   */
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/**
 * @typedef {object} Api
 * @property {(path: string, query?: Record<string, unknown>) => Promise<any>} get
 * @property {(path: string, body?: unknown) => Promise<any>} post
 * @property {(path: string, body?: unknown) => Promise<any>} del
 */

/**
 * `getToken()` gives the current token; `onUnauthorized(error)` runs on every 401.
 * @param {{ getToken: () => string | null | undefined, onUnauthorized?: (error: ApiError) => void }} options
 * @returns {Api}
 */
export function createApi({ getToken, onUnauthorized = () => {} }) {
  /**
   * @param {string} method
   * @param {string} path
   * @param {{ query?: Record<string, unknown>, body?: unknown }} [options]
   */
  async function request(method, path, { query, body } = {}) {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
    /** @type {Record<string, string>} */
    const headers = { accept: 'application/json' };
    const token = getToken();
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
    } catch {
      throw new ApiError(0, 'network_error', 'callrec cannot be reached; check your connection');
    }
    let json;
    try {
      json = await res.json();
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const err = new ApiError(res.status, json?.error?.code, json?.error?.message);
      if (res.status === 401) onUnauthorized(err);
      throw err;
    }
    return json;
  }
  return {
    get: (path, query) => request('GET', path, { query }),
    post: (path, body) => request('POST', path, { body }),
    del: (path, body) => request('DELETE', path, { body }),
  };
}

/**
 * @param {string} id
 * @param {string} [rest]
 */
export const callPath = (id, rest = '') => `/api/calls/${encodeURIComponent(id)}${rest}`;
