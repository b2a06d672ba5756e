-- Today's order list, as sql/gold/queries/reorder_list.sql states it: store-SKUs whose inventory
-- position (on hand + on order; on hand on a gold without open orders) is at or below the reorder
-- point, with the quantity up to the order-up-to level, valued at the product's unit cost.
-- Grain: one row per store and SKU to order, by store and SKU, one page.
-- Parameters: store_id (text or null for every store the caller sees), after_store_id and
-- after_sku (the keyset cursor, null for the first page), page_size (integer).

with candidates as (
    -- on hand <= inventory position, so only these can qualify; the exact rule is below
    select current_stock.*
    from :"schema".v_current_stock as current_stock
    where current_stock.recommended_order_qty > 0
        and current_stock.on_hand <= current_stock.reorder_point
        and (%(store_id)s::text is null or current_stock.store_id = %(store_id)s)
        and (
            %(after_store_id)s::text is null
            or (current_stock.store_id, current_stock.sku) > (%(after_store_id)s::text, %(after_sku)s::text)
        )
),

positions as (
    select candidates.*, to_jsonb(candidates) as figures
    from candidates
),

products as (
    select sku, unit_cost
    from :"schema".dim_product
    where is_current
),

to_order as (
    select
        positions.store_id,
        positions.sku,
        positions.product_name,
        positions.category,
        positions.on_hand,
        (positions.figures ->> 'on_order')::integer as on_order,
        coalesce((positions.figures ->> 'inventory_position')::numeric, positions.on_hand) as stock_and_orders,
        positions.reorder_point,
        (positions.figures ->> 'stockout_probability')::numeric as stockout_probability,
        positions.recommended_order_qty,
        (positions.figures ->> 'expected_stockout_date')::date as expected_stockout_date,
        positions.predicted_stockout_date,
        products.unit_cost
    from positions
    left join products on products.sku = positions.sku
    where positions.recommended_order_qty > 0
),

final as (
    select
        store_id,
        sku,
        product_name,
        category,
        on_hand,
        on_order,
        reorder_point,
        stockout_probability,
        recommended_order_qty,
        expected_stockout_date,
        predicted_stockout_date,
        unit_cost,
        recommended_order_qty * unit_cost as order_value_at_cost
    from to_order
    where stock_and_orders <= reorder_point
)

select * from final
order by store_id, sku
limit %(page_size)s;
