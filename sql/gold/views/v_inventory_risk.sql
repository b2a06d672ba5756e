-- v_inventory_risk: low stock, overstock and how fast stock turns, over the last 28 days of
-- snapshots (v_last_28_days). Inventory turns are annualised: units sold / average units on
-- hand x 365 / days.

create view :"schema".v_inventory_risk with (security_invoker = true) as

with window_days as (
    select date_key
    from :"schema".v_last_28_days
    where facts = 'inventory'
),

snapshots as (
    select snapshot.*
    from :"schema".fact_inventory_snapshot as snapshot
    where snapshot.date_key in (select date_key from window_days)
),

movement as (
    select
        store_id,
        sku,
        count(*) as days,
        sum(sold) as units_sold,
        avg(closing_on_hand) as avg_on_hand,
        count(*) filter (where closing_on_hand <= 0) as stockout_days,
        sum(count_adjustment) as count_adjustment
    from snapshots
    group by store_id, sku
),

final as (
    select
        -- ids
        positions.store_id,
        positions.sku,
        products.category,
        -- now
        positions.risk,
        positions.on_hand,
        positions.days_of_cover,
        positions.reorder_point,
        positions.order_up_to_level,
        positions.on_hand * products.unit_cost as stock_value_at_cost,
        -- last 28 days
        movement.units_sold,
        round(movement.avg_on_hand, 1) as avg_on_hand,
        round(movement.units_sold / nullif(movement.avg_on_hand, 0) * 365.0 / movement.days, 1)
            as inventory_turns,
        movement.stockout_days,
        movement.count_adjustment
    from :"schema".stock_position as positions
    left join movement on movement.store_id = positions.store_id and movement.sku = positions.sku
    left join :"schema".dim_product as products on products.sku = positions.sku and products.is_current
)

select * from final
order by
    case risk when 'stockout' then 1 when 'below_reorder_point' then 2 when 'overstock' then 3 else 4 end,
    days_of_cover nulls last,
    store_id,
    sku;

comment on view :"schema".v_inventory_risk is 'One row per store and SKU: risk now and stock movement over the last 28 days.';

grant select on :"schema".v_inventory_risk to gold_analyst, gold_store_manager;
