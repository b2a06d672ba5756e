-- v_last_28_days: the rolling 28-day window the other views report on, ending on the latest
-- day each kind of fact has in gold: 'sales' (agg_sales_store_daily) and 'inventory'
-- (fact_inventory_snapshot). The two can differ by a day, when the newest events are deliveries
-- or counts. With security_invoker, a store manager's window ends on their stores' latest day.

create view :"schema".v_last_28_days with (security_invoker = true) as

with latest as (
    select 'sales' as facts, max(date_key) as date_key
    from :"schema".agg_sales_store_daily
    union all
    select 'inventory' as facts, max(date_key) as date_key
    from :"schema".fact_inventory_snapshot
),

latest_days as (
    select latest.facts, dim_date.calendar_date
    from latest
    join :"schema".dim_date on dim_date.date_key = latest.date_key
),

final as (
    select
        -- ids
        latest_days.facts,
        dim_date.date_key,
        -- calendar
        dim_date.calendar_date
    from latest_days
    join :"schema".dim_date
        on dim_date.calendar_date > latest_days.calendar_date - 28
        and dim_date.calendar_date <= latest_days.calendar_date
)

select * from final;

comment on view :"schema".v_last_28_days is 'One row per kind of fact (sales, inventory) and day of its last 28 days in gold.';

grant select on :"schema".v_last_28_days to gold_analyst, gold_store_manager;
