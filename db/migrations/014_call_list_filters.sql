-- GET /api/calls with a filter walks an index that starts with the filtered column, so a page costs what the
-- page holds, not the size of the org's list. Without these, a filter on a column outside
-- call_logs_org_ended_idx read every call of the org and sorted the matches (a page of outbound calls that
-- timed out on silence took 40 ms at 3,000 calls of an org and grew with every call).
-- Each index keeps the list's order (ended_at desc nulls last, id desc), so a cursor is still a range of it.
-- With several filters PostgreSQL picks the most selective index and checks the rest on the rows it walks.
create index if not exists call_logs_org_status_ended_idx on call_logs (org_id, status, ended_at desc nulls last, id desc);
create index if not exists call_logs_org_recording_status_ended_idx on call_logs (org_id, recording_status, ended_at desc nulls last, id desc);
create index if not exists call_logs_org_ended_reason_ended_idx on call_logs (org_id, ended_reason, ended_at desc nulls last, id desc);
create index if not exists call_logs_org_call_type_ended_idx on call_logs (org_id, call_type, ended_at desc nulls last, id desc);
create index if not exists call_logs_org_assistant_ended_idx on call_logs (org_id, assistant_id, ended_at desc nulls last, id desc);
