-- Today's order list: store-SKUs whose inventory position (on hand + on order) is at or below
-- their reorder point, with the quantity that tops it up to the order-up-to level, valued at the
-- product's unit cost (an empty shelf has no stock value to derive a cost from).
-- Grain: one row per store and SKU to order.

with positions as (
    select * from gold.v_current_stock
),

to_order as (
    select *
    from positions
    where inventory_position <= reorder_point
        and recommended_order_qty > 0
),

final as (
    select
        store_id,
        sku,
        product_name,
        on_hand,
        on_order,
        reorder_point,
        stockout_probability,
        recommended_order_qty,
        expected_stockout_date,
        recommended_order_qty * unit_cost as order_value_estimate
    from to_order
)

select * from final
order by stockout_probability desc nulls last, expected_stockout_date nulls last, store_id, sku;
