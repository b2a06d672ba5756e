-- Today's order list: store-SKUs at or below their reorder point, with the order-up-to quantity.
-- Grain: one row per store and SKU to order.

with positions as (
    select * from gold.v_current_stock
),

to_order as (
    select *
    from positions
    where on_hand <= reorder_point
        and recommended_order_qty > 0
),

final as (
    select
        store_id,
        sku,
        product_name,
        on_hand,
        reorder_point,
        recommended_order_qty,
        predicted_stockout_date,
        recommended_order_qty * coalesce(stock_value_at_cost / nullif(on_hand, 0), 0) as order_value_estimate
    from to_order
)

select * from final
order by predicted_stockout_date nulls last, store_id, sku;
