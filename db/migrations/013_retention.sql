-- Retention (src/processes/retention.ts): the candidate queries read only what can still expire.
--
-- Each partial index holds the calls whose recording (resp. transcript) is still there and not held or
-- erased, by (org, end): a run reads, per org, the range ended_at <= the org's cutoff. An expired call leaves
-- the index, so a run costs what expires now, not the size of call_logs. The predicates must stay identical
-- to the WHERE clauses of src/projections/callLogs/retentionQueries.ts.
create index if not exists call_logs_recording_retention_idx on call_logs (org_id, ended_at, id)
  where recording_status = 'uploaded' and held_at is null and erased_at is null;
create index if not exists call_logs_transcript_retention_idx on call_logs (org_id, ended_at, id)
  where (transcript is not null or summary is not null) and transcript_expired_at is null and held_at is null and erased_at is null;

-- Metrics count what retention removed, apart from what went missing (RecordingMissing).
alter table recording_metrics_daily add column if not exists recordings_expired integer not null default 0;   -- RecordingExpired
alter table recording_metrics_daily add column if not exists transcripts_expired integer not null default 0;  -- TranscriptExpired
