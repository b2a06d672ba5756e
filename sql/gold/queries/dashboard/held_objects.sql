-- Bronze objects silver holds back because their batch failed a critical quality gate, and those
-- waiting for their replay (`make held`, `make replay-held`). Analysts only (migration 026).
-- Grain: one row per held bronze object, oldest first.

select
    -- ids
    stream,
    bronze_key,
    -- why and since when
    status,
    reason,
    held_at,
    run_id,
    replay_at,
    size
from ingestion.held_objects
where status <> 'replayed'
order by held_at, stream, bronze_key;
