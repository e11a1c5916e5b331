-- The recording pipeline's to-do list (pipelineCandidates in src/projections/callLogs/queries.ts): the calls
-- with pipeline work, oldest change first. Before this index the query collected every call in the 'pending',
-- 'none' and 'failed' states (most of them with nothing to do: status-only calls, transcript-only calls already
-- handled) and sorted them, so each poll cost more as calls accumulated. The partial index holds only calls
-- with work, in the order the pipeline takes them; a poll reads the first few entries. Its predicate must stay
-- implied by the query's WHERE clause (each arm of the query's OR implies one arm here).
create index if not exists call_logs_pipeline_todo_idx on call_logs (last_position)
  where erased_at is null
    and ((recording_status = 'pending' and (recording_source_url is not null or recording_stereo_source_url is not null))
      or (recording_status = 'none' and recording_error is null)
      or recording_status = 'retry_scheduled'
      or recording_status = 'failed');
