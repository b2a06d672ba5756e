-- The figures of every staged stock position that alert conditions are evaluated on
-- (stock_model.alert_conditions).
-- Grain: one row per store and SKU evaluated by this load.

select
    store_id, sku, on_hand, safety_stock, reorder_point, days_of_cover, predicted_stockout_date,
    lead_time_days, recommended_order_qty
from stg_stock_position
