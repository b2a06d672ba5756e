-- Open stock alerts, most urgent first: what a store manager acts on this morning.
-- Grain: one row per open alert. Run: make psql, then \i sql/gold/queries/open_alerts_by_urgency.sql

select
    severity,
    kind,
    store_id,
    sku,
    product_name,
    on_hand,
    reorder_point,
    predicted_stockout_date,
    recommended_order_qty,
    first_seen_at
from gold.v_open_alerts
limit 20;
