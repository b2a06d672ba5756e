-- Upserts the staged stock positions into stock_position, stamped with the load's data time
-- (parameter as_of), with the calibrated stockout probability the load computed
-- (stg_calibrated_probability) beside the raw one, and the calibration map's fit day and rows
-- (parameters calibration_fitted_on, calibration_rows); store-SKUs this load did not evaluate
-- keep their row.
-- Grain: one row per store and SKU.

insert into :"schema".stock_position (
    store_id, sku, as_of, on_hand, mean_7d, mean_28d, ewma, demand_std, demand_days, dow_index,
    service_level, lead_time_days, safety_stock, reorder_point, order_up_to_level, days_of_cover,
    predicted_stockout_date, recommended_order_qty, risk, on_order, inventory_position, next_receipt_at,
    last_receipt_at, promotion_elasticity, demand_dispersion, stockout_probability,
    stockout_probability_1d, expected_stockout_date, model_version, stockout_probability_raw,
    calibration_fitted_on, calibration_rows
)
select
    store_id, sku, %(as_of)s, on_hand, round(mean_7d, 3), round(mean_28d, 3), round(ewma, 3),
    round(demand_std, 3), demand_days, dow_index::numeric(6, 3)[], service_level, lead_time_days,
    round(safety_stock, 2), round(reorder_point, 2), round(order_up_to_level, 2),
    round(days_of_cover, 2), predicted_stockout_date, recommended_order_qty, risk, on_order,
    inventory_position, next_receipt_at, last_receipt_at, round(promotion_elasticity, 3),
    round(demand_dispersion, 3), round(calibrated.stockout_probability, 4),
    round(stockout_probability_1d, 4), expected_stockout_date, model_version,
    round(stockout_probability_raw, 4), %(calibration_fitted_on)s, %(calibration_rows)s
from stg_stock_position as staged
left join stg_calibrated_probability as calibrated using (store_id, sku)
on conflict (store_id, sku) do update set
    as_of = excluded.as_of,
    on_hand = excluded.on_hand,
    mean_7d = excluded.mean_7d,
    mean_28d = excluded.mean_28d,
    ewma = excluded.ewma,
    demand_std = excluded.demand_std,
    demand_days = excluded.demand_days,
    dow_index = excluded.dow_index,
    service_level = excluded.service_level,
    lead_time_days = excluded.lead_time_days,
    safety_stock = excluded.safety_stock,
    reorder_point = excluded.reorder_point,
    order_up_to_level = excluded.order_up_to_level,
    days_of_cover = excluded.days_of_cover,
    predicted_stockout_date = excluded.predicted_stockout_date,
    recommended_order_qty = excluded.recommended_order_qty,
    risk = excluded.risk,
    on_order = excluded.on_order,
    inventory_position = excluded.inventory_position,
    next_receipt_at = excluded.next_receipt_at,
    last_receipt_at = excluded.last_receipt_at,
    promotion_elasticity = excluded.promotion_elasticity,
    demand_dispersion = excluded.demand_dispersion,
    stockout_probability = excluded.stockout_probability,
    stockout_probability_1d = excluded.stockout_probability_1d,
    expected_stockout_date = excluded.expected_stockout_date,
    model_version = excluded.model_version,
    stockout_probability_raw = excluded.stockout_probability_raw,
    calibration_fitted_on = excluded.calibration_fitted_on,
    calibration_rows = excluded.calibration_rows,
    loaded_at = now()
