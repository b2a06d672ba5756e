-- The figures of every staged stock position that alert conditions are evaluated on
-- (stock_model.alert_conditions), with what the hysteresis of stockout_risk needs: whether
-- such an alert is open, and whether a delivery came since it opened. The probability is the
-- calibrated one (stg_calibrated_probability); the 1-day one stays as the model computed it.
-- Grain: one row per store and SKU evaluated by this load.

with open_risk as (
    select store_id, sku, first_seen_at
    from :"schema".stock_alerts
    where resolved_at is null and kind = 'stockout_risk'
)

select
    -- ids
    staged.store_id,
    staged.sku,
    -- figures
    staged.on_hand,
    staged.reorder_point,
    staged.days_of_cover,
    staged.predicted_stockout_date,
    staged.recommended_order_qty,
    staged.on_order,
    calibrated.stockout_probability,
    staged.stockout_probability_1d,
    staged.expected_stockout_date,
    -- hysteresis
    open_risk.store_id is not null as risk_open,
    coalesce(staged.last_receipt_at > open_risk.first_seen_at, false) as received_since_open
from stg_stock_position as staged
left join stg_calibrated_probability as calibrated
    on calibrated.store_id = staged.store_id and calibrated.sku = staged.sku
left join open_risk on open_risk.store_id = staged.store_id and open_risk.sku = staged.sku
