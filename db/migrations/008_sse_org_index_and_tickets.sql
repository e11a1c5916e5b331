-- SSE catch-up reads one organisation's dashboard-relevant events after a position. This partial index
-- holds only the event types the SSE fan-out turns into messages, keyed by org then position, so a
-- reconnect of a small org reads its own few rows instead of the whole log filtered in memory.
-- The type list must stay identical to the predicate in src/events/postgres/readOrgEvents.ts (the planner
-- uses a partial index only when the query repeats its condition).
create index if not exists events_sse_org_position_idx on events ((metadata ->> 'orgId'), position)
  where type in ('CallEnded', 'RecordingUploaded', 'UrlSigned', 'UploadFailed', 'UploadAbandoned', 'TranscriptOnlyFallback');

-- Short-lived, single-use SSE tickets (POST /api/events/ticket, GET /api/events?ticket=…), so no JWT ends
-- up in a URL. Only a SHA-256 of the ticket is kept; redeeming deletes the row in the same statement that
-- reads it, so a ticket works once even when two instances share the database.
create table if not exists sse_tickets (
  ticket_sha256 text primary key,
  user_id       text not null,
  org_id        text not null,
  role          text not null,
  expires_at    timestamptz not null
);
create index if not exists sse_tickets_expires_idx on sse_tickets (expires_at);
