import { randomUUID } from 'node:crypto';
import type { Context } from 'koa';
import { z } from 'zod';
import { callPrivacyOf, MAX_REASON_LENGTH, type PrivacyCommandContext } from '../../commands/callPrivacy.ts';
import { decideErase, erasureOutcome } from '../../commands/erasure.ts';
import { decideHold, decideRelease, holdOutcome } from '../../commands/hold.ts';
import { executePrivacyCommand, refusalError } from '../../commands/privacyCommands.ts';
import { userActor } from '../../commands/recordingAccess.ts';
import { CallrecError } from '../../errors.ts';
import { callStream } from '../../events/catalog.ts';
import type { Caller } from '../auth.ts';
import { defineRoute, type ApiDeps } from '../openapi/route.ts';
import { CallIdParams } from './callsSchemas.ts';

/**
 * Erasure and legal holds (admins of the call's org; another org's call is a 404):
 * - DELETE /api/calls/:id `{ reason }` appends CallErased, then runs the erasure steps at once (keys, plaintext,
 *   recording objects); 200 when they are done, 202 when a step failed and the erasure process will retry it.
 *   Erasing an erased call changes nothing and answers the same outcome; a held call is refused (409 call_held).
 * - POST / DELETE /api/calls/:id/hold `{ reason }` put a legal hold on a call / lift it (CallHeld, CallReleased).
 */

const ADMINS = ['admin'] as const;

export const ReasonBody = z.object({
  reason: z.string().trim().min(1, 'give a non-empty reason').max(MAX_REASON_LENGTH).describe('why (kept in the audit trail)'),
});

const iso = z.string().describe('ISO 8601 timestamp');

export const ErasureResult = z.object({
  callId: z.string(),
  erased: z.boolean(),
  erasedAt: iso.nullable(),
  erasedBy: z.string().nullable().describe('the actor: `user:<id>` or `cli:<user>`'),
  reason: z.string().nullable(),
  completed: z.boolean().describe('keys destroyed, plaintext rewritten and recording objects deleted'),
  objectsDeleted: z.number().int().nullable(),
  keysDestroyed: z.number().int().nullable(),
  eventsRewritten: z.number().int().nullable(),
  retryAt: iso.nullable().describe('when the erasure process tries a failed step again'),
  vapi: z.enum(['pending', 'retry_scheduled', 'deleted', 'given_up', 'not_configured']).describe("Vapi's copy: asked only when VAPI_API_KEY is set (not_configured otherwise)"),
  alreadyErased: z.boolean().describe('the call was erased before this request: nothing new was written'),
});

export const HoldResult = z.object({
  callId: z.string(),
  held: z.boolean(),
  heldAt: iso.nullable(),
  heldBy: z.string().nullable(),
  reason: z.string().nullable(),
});

function commandContext(ctx: Context, caller: Caller, deps: ApiDeps, callId: string): PrivacyCommandContext {
  const given = ctx.get('x-request-id');
  return {
    callId,
    orgId: caller.orgId,
    actor: userActor(caller.userId),
    correlationId: given && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID(),
    now: deps.clock(),
  };
}

export const eraseCallRoute = defineRoute({
  method: 'delete',
  path: '/api/calls/:id',
  operationId: 'eraseCall',
  summary: "Erase a call's personal data (admins): transcript, summary, caller number, recording; the audit stays",
  description:
    'Appends CallErased (reason, actor = the admin), then destroys the call\'s data keys, rewrites plaintext personal fields of its ' +
    'older events to `[erased]` and deletes its recording object(s); ErasureCompleted records it. 200 when done, 202 when a step ' +
    'failed and will be retried. With VAPI_API_KEY, Vapi is asked to delete its copy in the background. Idempotent: a second ' +
    'request answers the same outcome and writes nothing. A call under a legal hold is refused (409 call_held).',
  tags: ['privacy'],
  roles: ADMINS,
  params: CallIdParams,
  body: ReasonBody,
  responses: {
    200: { description: 'erased, every step done', schema: ErasureResult },
    202: { description: 'erased; a step failed and the erasure process retries it at retryAt', schema: ErasureResult },
  },
  errors: ['not_found', 'call_held', 'not_ready', 'wrong_expected_revision'],
  async handle(ctx, { params, body, caller }, deps) {
    const erasure = deps.erasure;
    if (!erasure) throw new CallrecError('not_ready', 'erasure is not available on this instance');
    const cmd = { ...commandContext(ctx, caller, deps, params.id), reason: body.reason };
    const { decision } = await executePrivacyCommand(deps.store, params.id, (s) => decideErase(cmd, s));
    if (!decision.ok) throw refusalError(decision.error);
    const log = deps.logger.child({ callId: params.id, correlationId: cmd.correlationId });
    if (!decision.already) log.info({ actor: cmd.actor }, 'call erased');
    let state;
    try {
      state = await erasure.run(params.id, { vapi: false });
    } catch (err) {
      // CallErased is in the log: the erasure process finishes the steps.
      log.error({ err, errorCode: 'internal' }, 'erasure steps failed in the request; the erasure process will retry them');
      state = callPrivacyOf(params.id, await deps.store.readStream(callStream(params.id)));
    }
    erasure.nudge();
    ctx.set('Cache-Control', 'no-store');
    ctx.status = state.completed ? 200 : 202;
    const outcome = erasureOutcome(state);
    ctx.body = { ...outcome, vapi: deps.config.VAPI_API_KEY ? outcome.vapi : 'not_configured', alreadyErased: decision.already } satisfies z.input<typeof ErasureResult>;
  },
});

export const holdCallRoute = defineRoute({
  method: 'post',
  path: '/api/calls/:id/hold',
  operationId: 'holdCall',
  summary: 'Put a legal hold on a call (admins): exempt from retention and erasure until released',
  description: 'Appends CallHeld (reason, actor = the admin). Holding a held call changes nothing. An erased call cannot be held (409 call_erased).',
  tags: ['privacy'],
  roles: ADMINS,
  params: CallIdParams,
  body: ReasonBody,
  responses: { 200: { description: 'the hold', schema: HoldResult } },
  errors: ['not_found', 'call_erased', 'wrong_expected_revision'],
  async handle(ctx, { params, body, caller }, deps) {
    const cmd = { ...commandContext(ctx, caller, deps, params.id), reason: body.reason };
    const { decision, state } = await executePrivacyCommand(deps.store, params.id, (s) => decideHold(cmd, s));
    if (!decision.ok) throw refusalError(decision.error);
    ctx.body = holdOutcome(state) satisfies z.input<typeof HoldResult>;
  },
});

export const releaseCallRoute = defineRoute({
  method: 'delete',
  path: '/api/calls/:id/hold',
  operationId: 'releaseCall',
  summary: "Lift a call's legal hold (admins)",
  description: 'Appends CallReleased (reason, actor = the admin). A call that is not held is a 409 call_not_held.',
  tags: ['privacy'],
  roles: ADMINS,
  params: CallIdParams,
  body: ReasonBody,
  responses: { 200: { description: 'the call, no longer held', schema: HoldResult } },
  errors: ['not_found', 'call_not_held', 'wrong_expected_revision'],
  async handle(ctx, { params, body, caller }, deps) {
    const cmd = { ...commandContext(ctx, caller, deps, params.id), reason: body.reason };
    const { decision, state } = await executePrivacyCommand(deps.store, params.id, (s) => decideRelease(cmd, s));
    if (!decision.ok) throw refusalError(decision.error);
    ctx.body = holdOutcome(state) satisfies z.input<typeof HoldResult>;
  },
});

export const privacyRoutes = [eraseCallRoute, holdCallRoute, releaseCallRoute];
