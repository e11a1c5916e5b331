import { randomUUID } from 'node:crypto';
import type Router from '@koa/router';
import { decideCallEnded, decideStatusChanged } from '../../commands/callIngest.ts';
import { createOrgResolver } from '../../commands/orgs.ts';
import { RECONCILER_ACTOR } from '../../commands/reconcile.ts';
import { CallrecError } from '../../errors.ts';
import type { EventStore } from '../../events/port.ts';
import { EndOfCallReport, Envelope, normaliseReport, normaliseStatus, readCallId, StatusUpdate } from '../../vapi/messages.ts';
import { AppendQueueFullError } from '../../events/appendErrors.ts';
import { mayNeedSanitizing, sanitizeJson } from '../../vapi/sanitizeText.ts';
import { verifyWebhook, verifyWebhookHeaders } from '../../vapi/webhookAuth.ts';
import type { HttpDeps } from '../context.ts';
import { readRawBody } from '../rawBody.ts';
import { formatZodIssues } from '../../zodIssues.ts';

/**
 * POST /webhooks/vapi — authenticate the raw bytes, validate, append one event, answer. No body parser is
 * mounted here and nothing slow happens inside the request: the recording pipeline reacts to the event.
 */
export function registerVapiWebhook(router: Router, deps: HttpDeps) {
  const { config, store, database, logger } = deps;
  const orgs = deps.orgResolver ?? createOrgResolver(database.db, config.DEFAULT_ORG_ID);
  const auth = { secret: config.VAPI_WEBHOOK_SECRET, hmacSecret: config.VAPI_WEBHOOK_HMAC_SECRET, toleranceSeconds: config.VAPI_WEBHOOK_HMAC_TOLERANCE_SECONDS };

  router.post('/webhooks/vapi', async (ctx) => {
    const correlationId = (typeof ctx.get('x-request-id') === 'string' && /^[\w.-]{1,100}$/.test(ctx.get('x-request-id')) && ctx.get('x-request-id')) || randomUUID();
    const type = ctx.request.type;
    if (type !== 'application/json') {
      ctx.req.resume();
      throw new CallrecError('unsupported_media_type', `Content-Type must be application/json (got ${JSON.stringify(ctx.get('content-type') || 'none')})`);
    }
    // The shared secret is checked on the headers before the body is read; only HMAC needs the bytes.
    const pre = verifyWebhookHeaders(ctx.req.headers, auth);
    if (pre.ok === false) throw new CallrecError(pre.code, pre.message);
    // Under a flood, refuse before buffering the body: memory stays bounded, the sender retries later.
    if (deps.appendQueueFull?.()) throw new CallrecError('overloaded', `${config.APPEND_QUEUE_MAX} appends are already waiting (APPEND_QUEUE_MAX); retry shortly`);
    const raw = await readRawBody(ctx.req, config.WEBHOOK_MAX_BODY_BYTES, config.WEBHOOK_BODY_TIMEOUT_MS);
    if (pre.ok === 'needs_body') {
      const verdict = verifyWebhook(ctx.req.headers, raw, auth, deps.clock());
      if (!verdict.ok) throw new CallrecError(verdict.code, verdict.message);
    }

    let text: unknown;
    const rawText = raw.toString('utf8');
    try {
      text = JSON.parse(rawText);
    } catch (err) {
      throw new CallrecError('invalid_json', `the body is not valid JSON: ${(err as Error).message.slice(0, 200)}`);
    }
    // NUL and lone surrogates cannot be stored (jsonb refuses them): the call is stored with U+FFFD in
    // their place, and its event's metadata lists the fields (never a 5xx for content: it would be redelivered forever).
    const { value: parsed, paths: sanitized } = mayNeedSanitizing(rawText) ? sanitizeDeep(text) : { value: text, paths: [] };
    const envelope = Envelope.safeParse(parsed);
    if (!envelope.success) {
      throw new CallrecError('invalid_body', `expected {"message": {"type": ...}}: ${formatZodIssues(envelope.error.issues)}`);
    }
    const messageType = envelope.data.message.type;
    const now = deps.clock();
    // Everything from here that touches the database shares one deadline: an unreachable or stalled
    // database is a 503 within DATABASE_STATEMENT_TIMEOUT_MS, never a request hanging until Vapi gives up.
    const bounded = deadline(config.DATABASE_STATEMENT_TIMEOUT_MS);

    let decided;
    if (messageType === 'end-of-call-report' || messageType === 'status-update') {
      const message = envelope.data.message as { call?: { id?: unknown } };
      const id = readCallId(message.call);
      if (!id.ok) throw new CallrecError(id.code, id.message);
      if (messageType === 'end-of-call-report') {
        const report = normaliseReport(EndOfCallReport.parse(message), id.callId);
        const orgId = await bounded(orgs.resolve(report));
        decided = decideCallEnded(report, { orgId, correlationId, now });
      } else {
        const m = StatusUpdate.safeParse(message);
        if (!m.success) throw new CallrecError('invalid_body', formatZodIssues(m.error.issues, { prefix: 'message' }));
        const status = normaliseStatus(m.data, id.callId);
        const orgId = await bounded(orgs.resolve(status));
        decided = decideStatusChanged(status, { orgId, correlationId, now });
      }
    } else {
      ctx.status = 200;
      ctx.body = { ok: true, stored: false, type: messageType };
      return;
    }

    const callId = (decided.event.data as { callId: string }).callId;
    const log = logger.child({ callId, correlationId, eventId: decided.event.eventId, messageType });
    if (sanitized.length > 0) {
      decided.event.metadata.sanitized = { replacedWith: 'U+FFFD', fields: sanitized.map((f) => f.replace(/^message\./, '')) };
      log.warn({ errorCode: 'invalid_body', fields: sanitized }, 'webhook text held NUL or lone surrogates; stored with U+FFFD in their place');
    }
    let result;
    try {
      result = await bounded(store.append(decided.streamId, [decided.event], 'any'));
    } catch (err) {
      if (err instanceof AppendQueueFullError) {
        log.warn({ errorCode: 'overloaded', limit: err.limit }, 'append queue full; answering 503 with Retry-After');
        throw new CallrecError('overloaded', err.message);
      }
      log.error({ err, errorCode: 'database_unavailable' }, 'append failed; Vapi will redeliver');
      throw new CallrecError('database_unavailable', 'the event could not be stored; please retry');
    }
    if (!result.ok) {
      if (result.error.code === 'event_id_conflict' && (await bounded(recordedBy(store, decided.streamId, decided.event.eventId))) === RECONCILER_ACTOR) {
        // The reconciler recovered this call from Vapi's call list before its report arrived: the same call
        // under the same event id, built from the Call object rather than the message. Nothing new: a duplicate.
        log.info({ duplicate: true, recoveredBy: RECONCILER_ACTOR }, 'webhook arrived after the reconciler recovered the call');
        ctx.status = 200;
        ctx.body = { ok: true, stored: false, duplicate: true, eventId: decided.event.eventId };
        return;
      }
      if (result.error.code === 'event_id_conflict') {
        // Vapi redelivered the message with different content. The first delivery is the recorded fact;
        // answering 2xx stops endless redelivery, and the log line keeps the difference visible.
        log.warn({ errorCode: 'event_id_conflict', detail: result.error.message }, 'redelivered webhook differs from the stored event');
        ctx.status = 200;
        ctx.body = { ok: true, stored: false, duplicate: true, conflict: true, eventId: decided.event.eventId };
        return;
      }
      log.error({ errorCode: result.error.code, detail: result.error.message }, 'event refused');
      throw new CallrecError(result.error.code === 'invalid_event' ? 'invalid_body' : 'conflict', result.error.message);
    }
    log.info({ duplicate: result.duplicate, position: result.positions[0] }, result.duplicate ? 'webhook redelivered' : 'webhook stored');
    ctx.status = 200;
    ctx.body = { ok: true, stored: !result.duplicate, duplicate: result.duplicate, eventId: decided.event.eventId, position: result.positions[0] };
  });
}

/** Who wrote the stored event with this id (its metadata actor), or undefined when it cannot be read. */
async function recordedBy(store: EventStore, streamId: string, eventId: string): Promise<string | undefined> {
  try {
    return (await store.readStream(streamId)).find((e) => e.eventId === eventId)?.metadata.actor;
  } catch {
    return undefined;
  }
}

/**
 * `bounded(p)`: p, or a database_unavailable CallrecError once `ms` have passed since deadline() was
 * called (one budget for all the steps). Other failures of p that are not CallrecErrors are the database's too.
 */
function deadline(ms: number) {
  const end = Date.now() + ms;
  return async <T>(p: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CallrecError('database_unavailable', `the database did not answer within ${ms} ms; please retry`)), Math.max(0, end - Date.now()));
    });
    try {
      return await Promise.race([p, late]);
    } catch (err) {
      if (err instanceof CallrecError || err instanceof AppendQueueFullError) throw err;
      throw new CallrecError('database_unavailable', 'the database could not be reached; please retry');
    } finally {
      clearTimeout(timer);
      p.catch(() => {}); // given up on: its late failure is not an unhandled rejection
    }
  };
}

function sanitizeDeep(value: unknown) {
  try {
    return sanitizeJson(value);
  } catch (err) {
    if (err instanceof RangeError) throw new CallrecError('invalid_body', 'the body is nested too deeply');
    throw err;
  }
}
