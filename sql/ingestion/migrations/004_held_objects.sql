-- Bronze objects silver holds back because their batch failed a critical quality gate
-- (spark_jobs/silver/held.py). A held object is skipped by later runs, so the objects after it
-- flow on; `make replay-held` sets it to 'replaying' and the next silver run takes it again,
-- which makes it 'replayed' or, failing the gate again, 'held'.
create table if not exists :"schema".held_objects (
    stream       text        not null,
    bronze_key   text        not null,
    size         bigint      not null check (size >= 0),
    status       text        not null check (status in ('held', 'replaying', 'replayed')),
    -- the silver run that held it, and the critical expectations its batch failed
    run_id       text        not null,
    reason       text        not null,
    held_at      timestamptz not null default now(),
    -- set by the replay command, then by the run that took the object again
    replay_at    timestamptz,
    replayed_at  timestamptz,
    replay_run   text,
    primary key (stream, bronze_key)
);

comment on table :"schema".held_objects is
    'One row per bronze object a failed silver quality gate held back: its status and why.';

create index if not exists held_objects_open_idx on :"schema".held_objects (stream) where status <> 'replayed';
