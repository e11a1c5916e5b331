-- Calls the reconciler recovered from Vapi's call list (CallEnded with actor system:reconciler): the
-- webhooks that were missed. Counted per org per day by the recording_metrics projection.
alter table recording_metrics_daily add column if not exists recovered_calls integer not null default 0;
