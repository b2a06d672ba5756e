-- Keeps each staged position's raw stockout probability, and the lead time it covers, on its
-- store-SKU's snapshot of the load's data day (parameter as_of_day), so later loads can fit the
-- calibration map on it once its outcome is known (calibration_history.sql). A later load of
-- the same day replaces it; days with nothing on hand keep none (nothing left to predict).
-- Grain: one row per store, SKU and day (fact_inventory_snapshot).

update :"schema".fact_inventory_snapshot as snapshot
set
    stockout_probability_raw = round(staged.stockout_probability_raw, 4),
    stockout_lead_time_days = staged.lead_time_days
from stg_stock_position as staged
where snapshot.store_id = staged.store_id
    and snapshot.sku = staged.sku
    and snapshot.date_key = to_char(%(as_of_day)s::date, 'YYYYMMDD')::integer
    and staged.on_hand > 0
    and staged.stockout_probability_raw is not null
