-- Gold's latest loads: the data time each reached (newest event seen) and when it finished.
-- Grain: one row per load, newest first. Parameters: top (integer).

select
    run_id,
    mode,
    as_of as newest_event,
    finished_at,
    round(extract(epoch from finished_at - started_at)::numeric, 1) as seconds,
    window_start,
    row_counts::text as row_counts
from :"schema".load_runs
order by run_id desc
limit %(top)s;
