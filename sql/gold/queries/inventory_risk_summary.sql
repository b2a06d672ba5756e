-- Inventory risk per store: how many SKUs are out, low, or overstocked, and the slowest turners.
-- Grain: one row per store.

with risk as (
    select * from gold.v_inventory_risk
),

final as (
    select
        store_id,
        count(*) filter (where risk = 'stockout') as skus_out_of_stock,
        count(*) filter (where risk = 'below_reorder_point') as skus_below_reorder_point,
        count(*) filter (where risk = 'overstock') as skus_overstocked,
        sum(stock_value_at_cost) filter (where risk = 'overstock') as overstock_value_at_cost,
        round(avg(inventory_turns), 1) as avg_inventory_turns,
        sum(stockout_days) as stockout_days_28d
    from risk
    group by store_id
)

select * from final
order by skus_out_of_stock desc, skus_below_reorder_point desc;
