-- The newest load in gold: where the next incremental load goes on from.
-- Grain: one row, or none before the first load.

select as_of, window_start, silver_loaded_through
from :"schema".load_runs
order by as_of desc, run_id desc
limit 1
