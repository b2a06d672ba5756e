-- v_current_stock: what each store holds now and when it runs out, for psql and the store app.

create view :"schema".v_current_stock with (security_invoker = true) as

with positions as (
    select * from :"schema".stock_position
),

stores as (
    select store_id, store_name, region from :"schema".dim_store
),

products as (
    select sku, product_name, category, unit_cost, price
    from :"schema".dim_product
    where is_current
),

final as (
    select
        -- ids
        positions.store_id,
        stores.store_name,
        stores.region,
        positions.sku,
        products.product_name,
        products.category,
        -- stock
        positions.on_hand,
        positions.risk,
        positions.safety_stock,
        positions.reorder_point,
        positions.order_up_to_level,
        positions.days_of_cover,
        positions.predicted_stockout_date,
        positions.recommended_order_qty,
        -- orders and risk
        positions.on_order,
        positions.inventory_position,
        positions.next_receipt_at,
        positions.stockout_probability,
        positions.stockout_probability_1d,
        positions.expected_stockout_date,
        positions.stockout_probability_raw,
        positions.calibration_fitted_on,
        positions.calibration_rows,
        -- demand, units per day
        positions.ewma as daily_demand,
        positions.demand_std,
        -- money
        products.unit_cost,
        positions.on_hand * products.unit_cost as stock_value_at_cost,
        -- timestamps
        positions.as_of
    from positions
    join stores on stores.store_id = positions.store_id
    left join products on products.sku = positions.sku
)

select * from final;

comment on view :"schema".v_current_stock is 'One row per store and SKU: current on-hand, risk and replenishment figures.';

grant select on :"schema".v_current_stock to gold_analyst, gold_store_manager;
