-- Today's order list (gold.v_reorder_list), the likeliest stockouts first.
-- Grain: one row per store and SKU to order.

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
    order_value_at_cost
from gold.v_reorder_list
order by stockout_probability desc nulls last, expected_stockout_date nulls last, store_id, sku;
