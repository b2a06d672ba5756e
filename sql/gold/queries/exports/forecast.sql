-- What the forecast files hold (spark_jobs/gold/exports.py): the day's mean forecast, and the
-- store-SKU figures the files derive the interval, the stockout probability and the order from.
-- Grain: one row per store, SKU and forecast day of the latest load.
with

forecast as (
    select store_id, sku, forecast_date, forecast_units, as_of
    from :"schema".stock_forecast
),

position as (
    select
        store_id,
        sku,
        coalesce(inventory_position, on_hand + on_order) as inventory_position,
        demand_dispersion,
        recommended_order_qty
    from :"schema".stock_position
),

final as (
    select
        -- ids
        forecast.store_id,
        forecast.sku,
        forecast.forecast_date,
        -- numerics
        forecast.forecast_units,
        position.inventory_position,
        position.demand_dispersion,
        position.recommended_order_qty,
        -- timestamps
        forecast.as_of
    from forecast
    left join position using (store_id, sku)
)

select * from final
order by store_id, sku, forecast_date
