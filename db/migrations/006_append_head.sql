-- Appends that cost the same on a million-event log as on an empty one.
--
-- 001's callrec_append read `max(position)` and probed events/streams with statements whose plans PL/pgSQL
-- caches per connection. After five runs it may keep a generic plan chosen while the tables were small
-- (sequential scans) and keep it for the life of the connection: a service that holds its connections for
-- weeks then reads the whole log on every append (measured: 14x slower at 100k events). Now:
--   * the next position comes from a one-row head, moved under the append lock in the same transaction
--     (no aggregate over the log, whatever the plan);
--   * every statement that touches events or streams is planned for the table as it is now
--     (plan_cache_mode = force_custom_plan), so lookups stay on the unique indexes as the log grows;
--   * no JIT: a custom plan on a large table may cross jit_above_cost and spend milliseconds compiling
--     a statement that runs in microseconds.
-- test/events/appendWork.test.ts counts the blocks one append touches before and after the log grows on
-- one connection. The result shapes and every guarantee are those of 001.
-- The append lock and the NOTIFY channel are the schema's own ((7310002, hashtext(schema)) and
-- '<schema>_events'; the function runs with search_path = <schema>, pg_catalog, so current_schema() is
-- DATABASE_SCHEMA): two deployments in one database neither serialise on each other nor wake each other.

-- The last position handed out. Only callrec_append moves it, under the append lock; readers still take
-- the head of the log from events, so an uncommitted head is never seen.
create table if not exists event_log_head (
  id       boolean primary key default true check (id),
  position bigint not null
) with (fillfactor = 20); -- room for in-page (HOT) updates of the single row

insert into event_log_head (id, position)
select true, coalesce(max(position), 0) from events
on conflict (id) do update set position = greatest(event_log_head.position, excluded.position);

create or replace function callrec_append(requests jsonb) returns jsonb
language plpgsql
set plan_cache_mode = force_custom_plan
set jit = off
as $$
declare
  req        jsonb;
  results    jsonb := '[]'::jsonb;
  first_pos  bigint;
  next_pos   bigint;
  cur        bigint;
  expected   jsonb;
  stream     text;
  n_events   int;
  n_known    int;
  n_same     int;
  bad_id     text;
  positions  jsonb;
  last_rev   bigint;
  ids        uuid[];
  stream_ids text[];
  distinct_streams boolean;
  total      bigint;
begin
  -- Work that needs no lock happens before it: unpack the ids and see whether each request has its own stream.
  select coalesce(array_agg((e.value->>'eventId')::uuid), '{}') into ids
    from jsonb_array_elements(requests) r, jsonb_array_elements(r.value->'events') e;
  select count(distinct value->>'streamId') = count(*), array_agg(value->>'streamId') into distinct_streams, stream_ids
    from jsonb_array_elements(requests);

  perform pg_advisory_xact_lock(7310002, hashtext(current_schema()));
  select h.position + 1 into first_pos from event_log_head h where h.id;
  -- A missing head (tables emptied by hand) or one behind the log (rows inserted without this function:
  -- the next position is taken) is taken again from the log. The check is one equality probe of the
  -- primary key (planned as such at any size; `>=` would be guessed at a third of the table).
  if first_pos is null or exists (select 1 from events where position = first_pos) then
    select coalesce(max(position), 0) + 1 into first_pos from events;
    insert into event_log_head (id, position) values (true, first_pos - 1)
      on conflict (id) do update set position = excluded.position;
  end if;
  next_pos := first_pos;

  -- Fast path, set-based: no event id is already stored and every request has its own stream (the usual
  -- case: distinct calls). A handful of statements whatever the batch size.
  if distinct_streams and not exists (select 1 from events where event_id = any(ids)) then
    -- The streams are looked up by an array of their ids (its length is known to the planner) rather than
    -- by a join with jsonb_array_elements (guessed at 100 rows: a hash join over all of streams).
    with known as (
      select s.stream_id, s.revision from streams s where s.stream_id = any(stream_ids)
    ), reqs as (
      select r.ordinality as rn, r.value->>'streamId' as stream, r.value->'expected' as expected,
             r.value->'events' as evs, jsonb_array_length(r.value->'events') as n
        from jsonb_array_elements(requests) with ordinality r
    ), judged as (
      select q.*, coalesce(s.revision, -1) as cur,
             not ((q.expected = '"no_stream"' and s.revision is not null)
               or (q.expected = '"stream_exists"' and s.revision is null)
               or (jsonb_typeof(q.expected) = 'number' and coalesce(s.revision, -1) <> (q.expected #>> '{}')::bigint)) as ok
        from reqs q left join known s on s.stream_id = q.stream
    ), placed as (
      select j.*, next_pos + coalesce(sum(case when j.ok then j.n else 0 end)
               over (order by j.rn rows between unbounded preceding and 1 preceding), 0) as base
        from judged j
    ), ins as (
      insert into events (position, stream_id, stream_revision, event_id, type, data, metadata)
      select p.base + e.ord - 1, p.stream, p.cur + e.ord, (e.ev->>'eventId')::uuid, e.ev->>'type', e.ev->'data', e.ev->'metadata'
        from placed p, jsonb_array_elements(p.evs) with ordinality as e(ev, ord)
       where p.ok
    ), ups as (
      insert into streams (stream_id, revision)
      select p.stream, p.cur + p.n from placed p where p.ok and p.n > 0
      on conflict (stream_id) do update set revision = excluded.revision, updated_at = now()
    )
    select jsonb_agg(case when p.ok
             then jsonb_build_object('ok', true, 'nextRevision', p.cur + p.n, 'duplicate', false, 'positions',
                    (select coalesce(jsonb_agg(p.base + g - 1 order by g), '[]'::jsonb) from generate_series(1, p.n) g))
             else jsonb_build_object('ok', false, 'code', 'wrong_expected_revision', 'actual', p.cur) end
           order by p.rn),
           coalesce(sum(case when p.ok then p.n else 0 end), 0)
      into results, total
      from placed p;
    next_pos := next_pos + total;
  else
    -- General path, request by request: repeats, conflicts, several requests on one stream.
    for req in select value from jsonb_array_elements(requests) loop
      stream := req->>'streamId';
      expected := req->'expected';
      n_events := jsonb_array_length(req->'events');

      -- Idempotency: events already stored under these ids (`= any(ids)` keeps the lookups on the unique index).
      ids := array(select (value->>'eventId')::uuid from jsonb_array_elements(req->'events'));
      n_known := 0;
      if exists (select 1 from events where event_id = any(ids)) then
        select count(*),
               count(*) filter (where e.stream_id = stream and e.type = x.ev->>'type' and e.data = x.ev->'data'),
               min(e.event_id::text) filter (where not (e.stream_id = stream and e.type = x.ev->>'type' and e.data = x.ev->'data'))
          into n_known, n_same, bad_id
          from jsonb_array_elements(req->'events') as x(ev)
          join events e on e.event_id = (x.ev->>'eventId')::uuid
         where e.event_id = any(ids);
      end if;

      if n_known > 0 then
        if bad_id is not null then
          results := results || jsonb_build_array(jsonb_build_object('ok', false, 'code', 'event_id_conflict', 'eventId', bad_id, 'reason', 'other_content'));
        elsif n_known < n_events then
          select min(x.ev->>'eventId') into bad_id from jsonb_array_elements(req->'events') as x(ev)
            where (x.ev->>'eventId')::uuid in (select e.event_id from events e where e.event_id = any(ids));
          results := results || jsonb_build_array(jsonb_build_object('ok', false, 'code', 'event_id_conflict', 'eventId', bad_id, 'reason', 'partial_repeat'));
        else
          select jsonb_agg(e.position order by x.ord), max(e.stream_revision)
            into positions, last_rev
            from jsonb_array_elements(req->'events') with ordinality as x(ev, ord)
            join events e on e.event_id = (x.ev->>'eventId')::uuid
           where e.event_id = any(ids);
          results := results || jsonb_build_array(jsonb_build_object('ok', true, 'nextRevision', last_rev, 'positions', positions, 'duplicate', true));
        end if;
        continue;
      end if;

      select s.revision into cur from streams s where s.stream_id = stream;
      if not found then cur := -1; end if;

      if (expected = '"no_stream"' and cur <> -1)
         or (expected = '"stream_exists"' and cur = -1)
         or (jsonb_typeof(expected) = 'number' and cur <> (expected #>> '{}')::bigint) then
        results := results || jsonb_build_array(jsonb_build_object('ok', false, 'code', 'wrong_expected_revision', 'actual', cur));
        continue;
      end if;

      if n_events = 0 then
        results := results || jsonb_build_array(jsonb_build_object('ok', true, 'nextRevision', cur, 'positions', '[]'::jsonb, 'duplicate', false));
        continue;
      end if;

      insert into events (position, stream_id, stream_revision, event_id, type, data, metadata)
      select next_pos + x.ord - 1, stream, cur + x.ord, (x.ev->>'eventId')::uuid, x.ev->>'type', x.ev->'data', x.ev->'metadata'
        from jsonb_array_elements(req->'events') with ordinality as x(ev, ord);

      insert into streams (stream_id, revision) values (stream, cur + n_events)
        on conflict (stream_id) do update set revision = excluded.revision, updated_at = now();

      select jsonb_agg(next_pos + g - 1 order by g) into positions from generate_series(1, n_events) as g;
      results := results || jsonb_build_array(jsonb_build_object('ok', true, 'nextRevision', cur + n_events, 'positions', positions, 'duplicate', false));
      next_pos := next_pos + n_events;
    end loop;
  end if;

  if next_pos > first_pos then
    update event_log_head set position = next_pos - 1 where id;
    perform pg_notify(current_schema() || '_events', (next_pos - 1)::text);
  end if;
  return coalesce(results, '[]'::jsonb);
end;
$$;
