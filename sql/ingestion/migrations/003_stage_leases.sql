-- Who may write each stage's target, and since which takeover (lakehouse/locks.py).
-- The advisory lock says who holds a stage now; this row's fencing token says which holding
-- is current, so a writer whose lock died with its session (a PostgreSQL restart) is refused
-- before its next write instead of writing beside the new holder.
create table if not exists :"schema".stage_leases (
    stage       text        not null,
    target      text        not null,
    -- the fencing token: one more on every takeover, never reused, never lowered
    token       bigint      not null check (token >= 1),
    -- the holder: host and process id, for the message a refused writer prints
    holder      text        not null,
    -- the backend pid of the session holding the advisory lock (pg_locks.pid)
    holder_pid  integer     not null,
    taken_at    timestamptz not null default now(),
    -- null while held; set when the holder let go cleanly
    released_at timestamptz,
    primary key (stage, target)
);

comment on table :"schema".stage_leases is
    'One row per stage and target (silver bucket, gold schema): the current holder and its fencing token.';
