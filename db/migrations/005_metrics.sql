-- Read model: recording metrics per organisation per UTC day (the day of each event's metadata.recordedAt).
-- A projection of the log (projector `recording_metrics`); rebuildable from it. Durations are summed in
-- integer milliseconds so that a replay in other batch sizes gives exactly the same rows.
create table if not exists recording_metrics_daily (
  org_id               text not null,
  day                  date not null,
  calls                integer not null default 0,   -- CallEnded
  recorded_calls       integer not null default 0,   -- CallEnded with a recording URL
  duration_ms          bigint not null default 0,    -- sum of CallEnded durations
  bytes_uploaded       bigint not null default 0,    -- sum of RecordingUploaded bytes
  uploads_succeeded    integer not null default 0,   -- RecordingUploaded
  uploads_failed       integer not null default 0,   -- UploadFailed (attempts)
  retries_scheduled    integer not null default 0,   -- UploadRetryScheduled
  abandoned            integer not null default 0,   -- UploadAbandoned
  fallbacks            integer not null default 0,   -- TranscriptOnlyFallback
  downloads            integer not null default 0,   -- RecordingAccessed (download)
  refreshes            integer not null default 0,   -- RecordingAccessed (refresh)
  orphans_deleted      integer not null default 0,   -- OrphanDeleted
  orphan_bytes_deleted bigint not null default 0,
  missing_flagged      integer not null default 0,   -- RecordingMissing
  failures_by_reason   jsonb not null default '{}',  -- UploadFailed code -> count
  primary key (org_id, day)
);

create index if not exists recording_metrics_daily_day_idx on recording_metrics_daily (day);

-- One row per sweep run (SweepCompleted), with the orphans whose removal failed counted per org
-- (from the event's metadata): the "orphans not yet deleted" of the last sweep.
create table if not exists recording_metrics_sweeps (
  sweep_id        text primary key,
  position        bigint not null,
  completed_at    timestamptz not null,
  scanned         integer not null,
  deleted         integer not null,
  bytes_freed     bigint not null,
  missing_flagged integer not null,
  duration_ms     double precision not null,
  complete        boolean not null,
  failed_by_org   jsonb not null default '{}'
);

-- Not a projection: requests to /recordings refused for an expired or invalid signature, per UTC day.
-- Written by the HTTP layer (a refused signature cannot be trusted to name an org, so this is instance-wide).
create table if not exists recording_url_rejections (
  day    date not null,
  reason text not null,
  count  bigint not null default 0,
  primary key (day, reason)
);

-- The orphan sweep asks "does any call reference this object?" for every object in storage.
create index if not exists call_logs_storage_path_idx on call_logs (recording_storage_path) where recording_storage_path is not null;
