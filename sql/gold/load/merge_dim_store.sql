-- Upserts the staged stores into dim_store (type 1): a newer snapshot overwrites every
-- attribute, an older one changes nothing.
-- Grain: one row per store.

insert into :"schema".dim_store (
    store_id, store_name, region, city, state, manager, timezone, store_size, square_meters,
    opens_at, closes_at, snapshot_at
)
select
    store_id, store_name, region, city, state, manager, timezone, store_size, square_meters,
    opens_at, closes_at, snapshot_at
from stg_dim_store
on conflict (store_id) do update set
    store_name = excluded.store_name,
    region = excluded.region,
    city = excluded.city,
    state = excluded.state,
    manager = excluded.manager,
    timezone = excluded.timezone,
    store_size = excluded.store_size,
    square_meters = excluded.square_meters,
    opens_at = excluded.opens_at,
    closes_at = excluded.closes_at,
    snapshot_at = excluded.snapshot_at,
    loaded_at = now()
where excluded.snapshot_at >= dim_store.snapshot_at
