-- load_runs: one row per successful silver-to-gold load, written in the load's own transaction,
-- so the newest row is the watermark of what gold holds.

create table :"schema".load_runs (
    -- ids
    run_id          bigint generated always as identity primary key,
    -- what was loaded
    mode            text not null check (mode in ('full', 'incremental')),
    as_of           timestamptz not null,      -- data time: newest event seen in silver
    window_start    date not null,             -- first event date (re)read from silver
    row_counts      jsonb not null,
    -- timestamps
    started_at      timestamptz not null,
    finished_at     timestamptz not null default now()
);

comment on table :"schema".load_runs is 'One row per successful silver-to-gold load.';

create index load_runs_as_of_idx on :"schema".load_runs (as_of desc);
