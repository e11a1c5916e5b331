-- The erasure process's to-do list: one row per erased call (a projection of CallErased, ErasureStepFailed,
-- ErasureCompleted, VapiCallDataDeleted and VapiCallDataDeleteFailed; rebuilt from the log like any read
-- model). No personal data: ids, times and states only.
create table if not exists call_erasures (
  call_id          text primary key,
  org_id           text not null,
  erased_at        timestamptz not null,
  erased_by        text not null,
  -- the local steps (keys, tombstones, storage): done when completed_at is set; retry_at after a failure
  completed_at     timestamptz,
  attempts         integer not null default 0,
  retry_at         timestamptz,
  -- Vapi's copy: pending (not asked yet), retry_scheduled, deleted, given_up
  vapi_status      text not null default 'pending',
  vapi_attempts    integer not null default 0,
  vapi_retry_at    timestamptz,
  last_position    bigint not null
);

-- What the process polls: erasures whose local steps are not done yet, or whose Vapi deletion is open.
create index if not exists call_erasures_open_idx on call_erasures (last_position)
  where completed_at is null or vapi_status in ('pending', 'retry_scheduled');
