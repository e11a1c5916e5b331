import { createHash, randomUUID } from 'node:crypto';
import { jsonEvent, NO_STREAM, WrongExpectedVersionError } from '@eventstore/db-client';
import { canonicalJson } from './canonical.ts';
import type { NewEvent } from '../port.ts';
import type { EsdbConnection } from './connection.ts';
import { readRawStream } from './reads.ts';
import type { StreamNames } from './records.ts';

/**
 * Event ids are unique across the whole store, but EventStoreDB only knows an event id inside its
 * stream. So before an event is written, its id is claimed: one event appended with expected revision
 * `no_stream` to the stream `callrec-eventid-<id>`, recording which stream, type and data (SHA-256 of the
 * canonical JSON) the id belongs to. The server lets exactly one claim of an id succeed, whoever sends it.
 *
 * - `fresh`: this call made the claim, so the id was nowhere before.
 * - `same`: the id was claimed earlier for this very event (same stream, type and data): the event may
 *   already be stored (a repeat), or an earlier attempt may have stopped before writing it.
 * - `conflict`: the id belongs to another event.
 *
 * A claim is written before the event and stays even when the append then fails (for instance on a
 * wrong expected revision); it then only reserves the id for that same event, which may be appended later.
 */
export type ClaimResult = { kind: 'fresh' } | { kind: 'same' } | { kind: 'conflict'; message: string };

export const CLAIM_EVENT_TYPE = 'CallrecEventIdClaimed';

interface ClaimData {
  streamId: string;
  type: string;
  dataSha256: string;
}

export function dataDigest(data: unknown): string {
  return createHash('sha256').update(canonicalJson(data)).digest('hex');
}

export async function claimEventId(conn: EsdbConnection, names: StreamNames, streamId: string, event: NewEvent): Promise<ClaimResult> {
  const claimStream = names.claim(event.eventId);
  const mine: ClaimData = { streamId, type: event.type, dataSha256: dataDigest(event.data) };
  try {
    // A random id for the claim event itself: the server's own idempotency must not turn a second
    // claim into a silent success.
    await conn.call(`claim event id ${event.eventId}`, (c) =>
      c.appendToStream(claimStream, jsonEvent({ id: randomUUID(), type: CLAIM_EVENT_TYPE, data: { ...mine } }), {
        expectedRevision: NO_STREAM,
        deadline: conn.deadlineMs,
      }),
    );
    return { kind: 'fresh' };
  } catch (err) {
    if (!(err instanceof WrongExpectedVersionError)) throw err;
  }
  const [first] = await readRawStream(conn, claimStream, 0, 1);
  const theirs = first?.event?.data as Partial<ClaimData> | undefined;
  if (!theirs || typeof theirs !== 'object') {
    return { kind: 'conflict', message: `event ${event.eventId}: its claim stream ${claimStream} exists but holds no claim` };
  }
  if (theirs.streamId === mine.streamId && theirs.type === mine.type && theirs.dataSha256 === mine.dataSha256) return { kind: 'same' };
  return {
    kind: 'conflict',
    message: `event ${event.eventId} already exists with other content (stream ${theirs.streamId}, type ${theirs.type})`,
  };
}
