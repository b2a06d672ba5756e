-- Opens an alert, marked for publication, for each staged condition without an open alert of
-- its store, SKU and kind. Returns how many alerts were opened.
-- Grain: one row per alert episode (store, SKU and kind, from first seen until resolved).

with new_conditions as (
    select c.*
    from stg_alert_conditions as c
    where not exists (
        select 1 from :"schema".stock_alerts as alert
        where alert.resolved_at is null
            and alert.store_id = c.store_id and alert.sku = c.sku and alert.kind = c.kind
    )
),

opened as (
    insert into :"schema".stock_alerts (
        store_id, sku, kind, severity, on_hand, reorder_point, predicted_stockout_date,
        recommended_order_qty, on_order, stockout_probability, expected_stockout_date,
        first_seen_at, last_seen_at, needs_publish
    )
    select
        store_id, sku, kind, severity, on_hand, reorder_point, predicted_stockout_date,
        recommended_order_qty, on_order, stockout_probability, expected_stockout_date,
        %(as_of)s, %(as_of)s, true
    from new_conditions
    returning 1
)

select count(*) from opened
