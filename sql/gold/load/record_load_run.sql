-- Records a load in load_runs, in the load's own transaction: the newest row is the watermark
-- of what gold holds. Returns the run id.
-- Grain: one row per successful load.

insert into :"schema".load_runs (
    mode, as_of, window_start, row_counts, started_at, silver_loaded_through
)
values (
    %(mode)s, %(as_of)s, %(window_start)s, %(row_counts)s::jsonb, %(started_at)s,
    %(silver_loaded_through)s
)
returning run_id
