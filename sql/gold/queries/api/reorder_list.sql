-- Today's order list (the v_reorder_list view), one page by store and SKU.
-- Grain: one row per store and SKU to order.
-- Parameters: store_id (text or null for every store the caller sees), after_store_id and
-- after_sku (the keyset cursor, null for the first page), page_size (integer).

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
    order_value_at_cost
from :"schema".v_reorder_list
where (%(store_id)s::text is null or store_id = %(store_id)s)
    and (
        %(after_store_id)s::text is null
        or (store_id, sku) > (%(after_store_id)s::text, %(after_sku)s::text)
    )
order by store_id, sku
limit %(page_size)s;
