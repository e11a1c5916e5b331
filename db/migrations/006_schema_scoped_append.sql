-- callrec_append, scoped to its schema (DATABASE_SCHEMA): the append lock is (7310002, hashtext(schema))
-- and the NOTIFY channel is '<schema>_events'. Otherwise the same function as in 001.

-- callrec_append(requests) appends several independent requests in one transaction (group commit) and
-- returns one result per request. Each request keeps its own expected-revision check and idempotency:
--   requests: [{ "streamId", "expected": "any"|"no_stream"|"stream_exists"|<revision>, "events": [{ "eventId", "type", "data", "metadata" }] }]
--   result:   { "ok": true, "nextRevision", "positions": [...], "duplicate" }
--           | { "ok": false, "code": "wrong_expected_revision", "actual": <revision>|-1 }
--           | { "ok": false, "code": "event_id_conflict", "eventId", "reason" }
-- The advisory lock serialises writers until commit, so positions (max + 1 …) become visible in order.
-- Its key and the NOTIFY channel are the schema's own (the function runs with search_path = <schema>,
-- pg_catalog, so current_schema() is DATABASE_SCHEMA): two deployments in one database neither serialise
-- their appends on each other nor wake each other's readers.
create or replace function callrec_append(requests jsonb) returns jsonb
language plpgsql as $$
declare
  req        jsonb;
  results    jsonb := '[]'::jsonb;
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
  inserted   boolean := false;
  ids        uuid[];
  total      bigint;
begin
  perform pg_advisory_xact_lock(7310002, hashtext(current_schema()));
  select coalesce(max(position), 0) + 1 into next_pos from events;

  -- Fast path, set-based: no event id is already stored and every request has its own stream (the usual
  -- case: distinct calls). A handful of statements whatever the batch size.
  select array_agg((e.value->>'eventId')::uuid) into ids
    from jsonb_array_elements(requests) r, jsonb_array_elements(r.value->'events') e;
  if (select count(distinct value->>'streamId') = count(*) from jsonb_array_elements(requests))
     and not exists (select 1 from events where event_id = any(coalesce(ids, '{}'))) then
    with reqs as (
      select r.ordinality as rn, r.value->>'streamId' as stream, r.value->'expected' as expected,
             r.value->'events' as evs, jsonb_array_length(r.value->'events') as n
        from jsonb_array_elements(requests) with ordinality r
    ), judged as (
      select q.*, coalesce(s.revision, -1) as cur,
             not ((q.expected = '"no_stream"' and s.revision is not null)
               or (q.expected = '"stream_exists"' and s.revision is null)
               or (jsonb_typeof(q.expected) = 'number' and coalesce(s.revision, -1) <> (q.expected #>> '{}')::bigint)) as ok
        from reqs q left join streams s on s.stream_id = q.stream
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
    if total > 0 then
      perform pg_notify(current_schema() || '_events', (next_pos + total - 1)::text);
    end if;
    return coalesce(results, '[]'::jsonb);
  end if;

  -- General path, request by request: repeats, conflicts, several requests on one stream.

  for req in select value from jsonb_array_elements(requests) loop
    stream := req->>'streamId';
    expected := req->'expected';
    n_events := jsonb_array_length(req->'events');

    -- Idempotency: events already stored under these ids. (`= any(ids)` keeps the lookups on the
    -- unique index whatever the planner guesses about jsonb_array_elements.)
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

    select revision into cur from streams where stream_id = stream;
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
    inserted := true;
  end loop;

  if inserted then
    perform pg_notify(current_schema() || '_events', (next_pos - 1)::text);
  end if;
  return results;
end;
$$;
