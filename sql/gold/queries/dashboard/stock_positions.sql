-- Every store-SKU's stock now, its risk and replenishment, how fast it turned over the last 28
-- days, and what the recommended order costs at unit cost.
-- Grain: one row per store and SKU. Parameters: stores (text[]).

with stock as (
    select * from :"schema".v_current_stock
    where store_id = any(%(stores)s)
),

turns as (
    select store_id, sku, units_sold, inventory_turns, stockout_days
    from :"schema".v_inventory_risk
    where store_id = any(%(stores)s)
),

products as (
    select sku, supplier_id, unit_cost
    from :"schema".dim_product
    where is_current
),

final as (
    select
        -- ids
        stock.store_id,
        stock.store_name,
        stock.sku,
        stock.product_name,
        stock.category,
        products.supplier_id,
        -- stock now
        stock.risk,
        stock.on_hand,
        stock.reorder_point,
        stock.days_of_cover,
        stock.predicted_stockout_date,
        stock.daily_demand,
        stock.stock_value_at_cost,
        -- replenishment
        stock.recommended_order_qty,
        products.unit_cost,
        stock.recommended_order_qty * products.unit_cost as order_value_at_cost,
        -- last 28 days
        turns.units_sold as units_sold_28d,
        turns.inventory_turns,
        turns.stockout_days as stockout_days_28d
    from stock
    left join turns on turns.store_id = stock.store_id and turns.sku = stock.sku
    left join products on products.sku = stock.sku
)

select * from final
order by days_of_cover nulls last, store_id, sku;
