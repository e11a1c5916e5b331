-- Personal data: per-call data keys outside the log, erasure, legal holds and retention.
--
-- call_keys: one data key per call and purpose ('call': caller number, recording source URLs, IP and user
-- agent of accesses; 'transcript': transcript and summary), wrapped under PII_MASTER_KEY. Destroying a key
-- (erasure, retention) sets wrapped_key to null and keeps the row, so the key is never created again.
create table if not exists call_keys (
  call_id          text not null,
  purpose          text not null check (purpose in ('call', 'transcript')),
  org_id           text not null,
  wrapped_key      bytea,
  created_at       timestamptz not null default now(),
  destroyed_at     timestamptz,
  destroyed_reason text,
  primary key (call_id, purpose)
);

-- call_logs learns what happened to a call's personal data: erased (CallErased), held (CallHeld until
-- CallReleased), recording expired (RecordingExpired), transcript expired (TranscriptExpired).
alter table call_logs add column if not exists erased_at timestamptz;
alter table call_logs add column if not exists erased_by text;
alter table call_logs add column if not exists erase_reason text;
alter table call_logs add column if not exists held_at timestamptz;
alter table call_logs add column if not exists held_by text;
alter table call_logs add column if not exists hold_reason text;
alter table call_logs add column if not exists recording_expired_at timestamptz;
alter table call_logs add column if not exists transcript_expired_at timestamptz;

-- Retention policy per organisation (a projection of RetentionPolicySet events; null = the default of
-- RETENTION_RECORDING_DAYS / RETENTION_TRANSCRIPT_DAYS).
create table if not exists org_retention (
  org_id          text primary key,
  recording_days  integer,
  transcript_days integer,
  updated_at      timestamptz not null,
  updated_by      text not null,
  last_position   bigint not null
);

-- The SSE catch-up index also holds the events that change what a dashboard shows about personal data.
-- Its type list must stay identical to the predicate in src/events/postgres/readOrgEvents.ts.
drop index if exists events_sse_org_position_idx;
create index if not exists events_sse_org_position_idx on events ((metadata ->> 'orgId'), position)
  where type in ('CallEnded', 'RecordingUploaded', 'UrlSigned', 'UploadFailed', 'UploadAbandoned', 'TranscriptOnlyFallback',
                 'CallErased', 'RecordingExpired', 'TranscriptExpired', 'CallHeld', 'CallReleased');
