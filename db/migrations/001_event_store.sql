-- The event log: the only source of truth. Rows are inserted, never updated or deleted.
-- `position` is the global order. Appends take a transaction-level advisory lock before choosing the
-- next positions (max + 1 …), and the lock is released only after commit, so positions become visible
-- strictly in order and without holes:
-- a reader paging by position can never pass an uncommitted event (no skipped events).

create table if not exists events (
  position        bigint primary key,
  stream_id       text not null,
  stream_revision bigint not null,
  event_id        uuid not null,
  type            text not null,
  data            jsonb not null,
  metadata        jsonb not null,
  recorded_at     timestamptz not null default now(),
  constraint events_stream_revision_key unique (stream_id, stream_revision),
  constraint events_event_id_key unique (event_id)
);

create index if not exists events_type_position_idx on events (type, position);

-- One row per stream: its current revision (0-based index of its last event).
create table if not exists streams (
  stream_id  text primary key,
  revision   bigint not null,
  updated_at timestamptz not null default now()
);

-- Where each projector / process manager has got to in the log. Moved by compare-and-set in the
-- same transaction as the read-model change it covers.
create table if not exists checkpoints (
  name       text primary key,
  position   bigint not null default 0,
  updated_at timestamptz not null default now()
);

-- Which instance runs which projector or process. A lease that is not renewed expires and another
-- instance takes over.
create table if not exists leases (
  name       text primary key,
  owner      text not null,
  expires_at timestamptz not null
);
