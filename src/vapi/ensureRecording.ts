import { silentLogger, type Logger } from '../log.ts';
import { VapiApiError, type Assistant, type VapiClient, type VapiError } from './restClient.ts';
import { serverBackoffPatch, type BackoffAction } from './serverBackoff.ts';

/**
 * Makes sure `artifactPlan.recordingEnabled` is true on every Vapi assistant.
 *
 * Only assistants where it is not exactly `true` are touched (unset counts as not true: Vapi's
 * default may change, ours may not). The PATCH carries the assistant's whole existing artifactPlan
 * with `recordingEnabled: true`, because Vapi replaces a nested plan rather than merging it.
 * Idempotent: a second run finds everything `unchanged`. A failing assistant is reported as
 * `failed` and the others carry on. If the listing itself fails, the assistants listed so far are
 * still handled, `complete` is false and `listError` says why.
 */

export type EnsureRecordingAction = 'unchanged' | 'enabled' | 'would-enable' | 'failed';

export interface EnsureRecordingRow {
  assistantId: string;
  name: string;
  /** `artifactPlan.recordingEnabled` as found; null when unset. */
  before: boolean | null;
  action: EnsureRecordingAction;
  /** With `serverRetries`: what happened to `server.backoffPlan`. */
  backoff?: BackoffAction;
  error?: string;
}

export interface EnsureRecordingSummary {
  total: number;
  enabled: number;
  unchanged: number;
  failed: number;
  wouldEnable: number;
  /** With `serverRetries`: assistants whose server.backoffPlan was set (or, dry run, would be). */
  backoffSet?: number;
}

export interface EnsureRecordingResult {
  rows: EnsureRecordingRow[];
  summary: EnsureRecordingSummary;
  dryRun: boolean;
  /** False when listing the assistants stopped early; `listError` then says why. */
  complete: boolean;
  listError?: VapiError;
}

export interface EnsureRecordingOptions {
  client: Pick<VapiClient, 'listAssistants' | 'updateAssistant'>;
  dryRun: boolean;
  logger?: Logger;
  /** PATCHes in flight at once; default 4. */
  concurrency?: number;
  /** Opt-in: also set each assistant's `server.backoffPlan` to this many exponential retries. */
  serverRetries?: number;
}

function recordingFlag(a: Assistant): boolean | null {
  const v = a.artifactPlan?.recordingEnabled;
  return typeof v === 'boolean' ? v : null;
}

async function enableOne(
  a: Assistant,
  client: EnsureRecordingOptions['client'],
  logger: Logger,
  server?: Record<string, unknown>,
): Promise<EnsureRecordingRow> {
  const before = recordingFlag(a);
  const base = { assistantId: a.id, name: a.name ?? '', before, ...(server ? { backoff: 'set' as const } : {}) };
  const existingPlan = a.artifactPlan && typeof a.artifactPlan === 'object' ? a.artifactPlan : {};
  try {
    const patch = { ...(before === true ? {} : { artifactPlan: { ...existingPlan, recordingEnabled: true } }), ...(server ? { server } : {}) };
    const res = await client.updateAssistant(a.id, patch);
    if (!res.ok) {
      logger.error({ assistantId: a.id, errorCode: res.error.code, status: res.error.status }, 'enabling recording failed');
      return { ...base, ...(server ? { backoff: undefined } : {}), action: 'failed', error: `${res.error.code}: ${res.error.message}` };
    }
    if (res.value.artifactPlan?.recordingEnabled !== true) {
      logger.error({ assistantId: a.id, errorCode: 'invalid_response' }, 'Vapi accepted the update but recording is still off');
      return { ...base, ...(server ? { backoff: undefined } : {}), action: 'failed', error: 'invalid_response: Vapi accepted the update but artifactPlan.recordingEnabled is still not true' };
    }
    logger.info({ assistantId: a.id, backoff: base.backoff }, 'assistant updated');
    return { ...base, action: before === true ? 'unchanged' : 'enabled' };
  } catch (err) {
    logger.error({ assistantId: a.id, errorCode: 'internal', err }, 'enabling recording failed');
    return { ...base, ...(server ? { backoff: undefined } : {}), action: 'failed', error: `internal: ${err instanceof Error ? err.message : String(err)}` };
  }
}

export async function ensureRecordingEnabled(options: EnsureRecordingOptions): Promise<EnsureRecordingResult> {
  const { client, dryRun } = options;
  const logger = options.logger ?? silentLogger;
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));

  const assistants: Assistant[] = [];
  let listError: VapiError | undefined;
  try {
    for await (const a of client.listAssistants()) assistants.push(a);
  } catch (err) {
    if (!(err instanceof VapiApiError)) throw err;
    listError = err.error;
    logger.error({ errorCode: err.code, status: err.status, listed: assistants.length }, 'listing Vapi assistants failed');
  }

  const rows: EnsureRecordingRow[] = new Array(assistants.length);
  const todo: number[] = [];
  const servers: Array<Record<string, unknown> | undefined> = new Array(assistants.length);
  const backoffs: Array<{ backoff?: BackoffAction }> = new Array(assistants.length);
  assistants.forEach((a, i) => {
    const before = recordingFlag(a);
    const bp = options.serverRetries === undefined ? undefined : serverBackoffPatch(a, options.serverRetries);
    const backoff: { backoff?: BackoffAction } = bp === undefined ? {} : { backoff: typeof bp === 'object' ? (dryRun ? 'would-set' : 'set') : bp };
    if (typeof bp === 'object') servers[i] = bp.server;
    backoffs[i] = backoff;
    if (before === true && !servers[i]) rows[i] = { assistantId: a.id, name: a.name ?? '', before, action: 'unchanged', ...backoff };
    else if (dryRun) rows[i] = { assistantId: a.id, name: a.name ?? '', before, action: before === true ? 'unchanged' : 'would-enable', ...backoff };
    else todo.push(i);
  });

  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const i = todo[next++]!;
      rows[i] = { ...backoffs[i], ...(await enableOne(assistants[i]!, client, logger, servers[i])) };
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));

  const summary: EnsureRecordingSummary = { total: rows.length, enabled: 0, unchanged: 0, failed: 0, wouldEnable: 0 };
  for (const r of rows) {
    if (r.action === 'enabled') summary.enabled++;
    else if (r.action === 'unchanged') summary.unchanged++;
    else if (r.action === 'failed') summary.failed++;
    else summary.wouldEnable++;
    if (r.backoff === 'set' || r.backoff === 'would-set') summary.backoffSet = (summary.backoffSet ?? 0) + 1;
  }
  if (options.serverRetries !== undefined) summary.backoffSet ??= 0;
  return { rows, summary, dryRun, complete: listError === undefined, ...(listError ? { listError } : {}) };
}

/** One line of a cell: control characters and line breaks become spaces; long text is cut. */
function cell(text: string, max: number): string {
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ');
  const chars = [...clean];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : clean;
}

const width = (s: string) => [...s].length;

/** A plain, aligned text table of a result, for the CLI. */
export function formatEnsureRecordingTable(result: EnsureRecordingResult): string {
  const withBackoff = result.summary.backoffSet !== undefined;
  const header = ['ASSISTANT ID', 'NAME', 'BEFORE', 'ACTION', ...(withBackoff ? ['BACKOFF'] : []), 'ERROR'];
  const body = result.rows.map((r) => [
    cell(r.assistantId, 64),
    cell(r.name, 40),
    r.before === null ? 'unset' : String(r.before),
    r.action,
    ...(withBackoff ? [r.backoff ?? ''] : []),
    cell(r.error ?? '', 200),
  ]);
  const all = [header, ...body];
  const widths = header.map((_, c) => Math.max(...all.map((row) => width(row[c]!))));
  const line = (row: string[]) =>
    row
      .map((v, c) => v + ' '.repeat(widths[c]! - width(v)))
      .join('  ')
      .trimEnd();

  const out = [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
  const s = result.summary;
  out.push('');
  out.push(
    `total ${s.total}, enabled ${s.enabled}, unchanged ${s.unchanged}, ` +
      `would enable ${s.wouldEnable}, failed ${s.failed}${withBackoff ? `, server retries set on ${s.backoffSet}` : ''}${result.dryRun ? ' (dry run: nothing was changed)' : ''}`,
  );
  if (!result.complete) {
    const e = result.listError;
    out.push(`listing stopped early${e ? ` (${e.code}: ${cell(e.message, 300)})` : ''}; assistants not listed were not checked`);
  }
  return out.join('\n');
}
