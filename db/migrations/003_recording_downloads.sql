-- Read model: one row per handout of a recording URL (RecordingAccessed), append-only. Who, when, from where,
-- which call, and whether it was a download or a refresh. A projection of the log; rebuildable from it.
create table if not exists recording_downloads (
  position    bigint primary key,
  event_id    uuid not null unique,
  org_id      text not null,
  call_id     text not null,
  user_id     text not null,
  action      text not null check (action in ('download', 'refresh')),
  ip          text,
  user_agent  text,
  accessed_at timestamptz not null
);

create index if not exists recording_downloads_org_idx on recording_downloads (org_id, position desc);
create index if not exists recording_downloads_org_call_idx on recording_downloads (org_id, call_id, position desc);
create index if not exists recording_downloads_org_user_idx on recording_downloads (org_id, user_id, position desc);
