import type { Assistant } from './restClient.ts';

/**
 * `server.backoffPlan` of a Vapi assistant: without one, Vapi sends each server message (the
 * end-of-call-report included) once. `callrec vapi ensure-recording --server-retries N` sets an
 * exponential plan, keeping the assistant's other `server` fields (url, headers, timeoutSeconds …),
 * because Vapi replaces a nested object rather than merging it.
 */

/** Vapi accepts maxRetries 0..10 and baseDelaySeconds 0..10. */
export const MAX_SERVER_RETRIES = 10;
export const BACKOFF_BASE_DELAY_SECONDS = 2;

export type BackoffAction = 'set' | 'unchanged' | 'would-set' | 'no-server';

export interface BackoffPlan {
  type: 'exponential';
  maxRetries: number;
  baseDelaySeconds: number;
}

export function desiredBackoffPlan(maxRetries: number): BackoffPlan {
  return { type: 'exponential', maxRetries, baseDelaySeconds: BACKOFF_BASE_DELAY_SECONDS };
}

function serverOf(a: Assistant): Record<string, unknown> | null {
  const s = (a as Record<string, unknown>).server;
  return s && typeof s === 'object' && !Array.isArray(s) ? (s as Record<string, unknown>) : null;
}

/**
 * The `server` value to PATCH so the assistant retries `maxRetries` times, or a reason not to:
 * `unchanged` (already so) or `no-server` (the assistant has no server URL of its own and uses the
 * org's: an assistant `server` without a url would change where its messages go).
 */
export function serverBackoffPatch(a: Assistant, maxRetries: number): { server: Record<string, unknown> } | 'unchanged' | 'no-server' {
  const server = serverOf(a);
  if (!server || typeof server.url !== 'string' || server.url === '') return 'no-server';
  const want = desiredBackoffPlan(maxRetries);
  const have = server.backoffPlan as Partial<BackoffPlan> | undefined;
  if (have && have.type === want.type && have.maxRetries === want.maxRetries && have.baseDelaySeconds === want.baseDelaySeconds) return 'unchanged';
  const existing = have && typeof have === 'object' ? have : {};
  return { server: { ...server, backoffPlan: { ...existing, ...want } } };
}
