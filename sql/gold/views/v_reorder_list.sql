-- v_reorder_list: today's order list. A store-SKU is to be ordered when its inventory position
-- (on hand + on order; positions written before on_order existed have none, and count on hand
-- plus on order, which defaults to 0) is at or below its reorder point and the order-up-to level wants more;
-- the order is valued at the product's unit cost (an empty shelf has no stock value to derive a
-- cost from). The one definition read by psql (sql/gold/queries/reorder_list.sql), the read API
-- and anything else that lists orders.
-- Grain: one row per store and SKU to order.

create view :"schema".v_reorder_list with (security_invoker = true) as

with positions as (
    select * from :"schema".v_current_stock
),

to_order as (
    select *
    from positions
    where recommended_order_qty > 0
        and coalesce(inventory_position, on_hand + on_order) <= reorder_point
),

final as (
    select
        -- ids
        store_id,
        sku,
        product_name,
        category,
        -- stock and orders
        on_hand,
        on_order,
        coalesce(inventory_position, on_hand + on_order) as inventory_position,
        reorder_point,
        -- risk
        stockout_probability,
        expected_stockout_date,
        predicted_stockout_date,
        -- the order
        recommended_order_qty,
        unit_cost,
        recommended_order_qty * unit_cost as order_value_at_cost
    from to_order
)

select * from final;

comment on view :"schema".v_reorder_list is 'One row per store and SKU to order today, with the quantity and its value at cost.';

grant select on :"schema".v_reorder_list to gold_analyst, gold_store_manager;
