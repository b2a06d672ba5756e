-- The stores the viewer may see (row-level security on dim_store): the store filter's choices.
-- Grain: one row per store.

select store_id, store_name, region
from :"schema".dim_store
order by store_id;
