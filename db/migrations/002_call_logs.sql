-- Read model: one row per Vapi call. A projection of the call-<id> streams; rebuildable from the log.
create table if not exists call_logs (
  id                              text primary key,
  org_id                          text not null,
  call_type                       text,
  assistant_id                    text,
  phone_number_id                 text,
  customer_number                 text,
  status                          text not null,
  status_at                       timestamptz,
  started_at                      timestamptz,
  ended_at                        timestamptz,
  duration_seconds                double precision,
  ended_reason                    text,
  transcript                      text,
  summary                         text,
  cost                            double precision,
  recording_source_url            text,
  recording_stereo_source_url     text,
  recording_status                text not null default 'pending',
  recording_storage_path          text,
  recording_signed_url            text,
  recording_signed_url_expires_at timestamptz,
  recording_uploaded_at           timestamptz,
  transcript_only_fallback        boolean not null default false,
  recording_bytes                 bigint,
  recording_duration_seconds      double precision,
  recording_sha256                text,
  recording_format                text,
  recording_content_type          text,
  recording_channels              integer,
  recording_attempts              integer not null default 0,
  recording_next_retry_at         timestamptz,
  recording_error_code            text,
  recording_error                 text,
  recording_missing               boolean not null default false,
  first_position                  bigint not null,
  last_position                   bigint not null,
  -- Full-text search over transcript and summary ('simple' configuration: every language alike).
  -- Maintained by the projector only when transcript or summary change, so pipeline updates stay cheap.
  search                          tsvector
);

create index if not exists call_logs_org_ended_idx on call_logs (org_id, ended_at desc nulls last, id desc);
create index if not exists call_logs_recording_status_idx on call_logs (recording_status, recording_next_retry_at);
create index if not exists call_logs_search_idx on call_logs using gin (search);

-- Configuration, not a projection: which of our organisations a Vapi assistant / phone number / Vapi org
-- belongs to. Written by `callrec orgs map` or loaded from ORG_MAP_FILE.
create table if not exists org_mappings (
  kind   text not null check (kind in ('assistant', 'phone_number', 'vapi_org')),
  value  text not null,
  org_id text not null,
  primary key (kind, value)
);
