-- Upserts the staged end-of-day positions into fact_inventory_snapshot: a reread day replaces
-- what an earlier load wrote for it.
-- Grain: one row per store, SKU and day.

with staged as (
    select
        staged.*,
        day.date_key
    from stg_inventory_snapshot as staged
    join :"schema".dim_date as day on day.calendar_date = staged.calendar_date
)

insert into :"schema".fact_inventory_snapshot (
    store_id, sku, date_key, opening_on_hand, sold, received, count_adjustment, closing_on_hand,
    safety_stock, reorder_point, risk
)
select
    store_id, sku, date_key, opening_on_hand, sold, received, count_adjustment, closing_on_hand,
    round(safety_stock, 2), round(reorder_point, 2), risk
from staged
on conflict (store_id, sku, date_key) do update set
    opening_on_hand = excluded.opening_on_hand,
    sold = excluded.sold,
    received = excluded.received,
    count_adjustment = excluded.count_adjustment,
    closing_on_hand = excluded.closing_on_hand,
    safety_stock = excluded.safety_stock,
    reorder_point = excluded.reorder_point,
    risk = excluded.risk,
    loaded_at = now()
