-- What each scheduled stage's last run looked at, left waiting and wrote (lakehouse/progress.py).
-- Written with `if not exists`: databases from before this migration already hold the table.
create table if not exists :"schema".stage_progress (
    stage        text        not null,
    target       text        not null,
    -- when the last successful run began listing its input: input stamped later is new
    looked_at    timestamptz not null,
    -- input the last run saw but left for the next one (SILVER_MAX_OBJECTS_PER_RUN)
    backlog      integer     not null default 0,
    -- when a run last finished writing rows; null: never
    wrote_at     timestamptz,
    primary key (stage, target)
);

comment on table :"schema".stage_progress is
    'One row per scheduled stage and target: what its last run looked at, left waiting and wrote.';
