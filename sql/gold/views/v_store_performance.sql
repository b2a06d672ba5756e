-- v_store_performance: each store on the latest business day in gold ("today" on the data
-- clock) against its target, the average revenue of the same weekday in the four weeks before.

create view :"schema".v_store_performance with (security_invoker = true) as

with daily as (
    select * from :"schema".agg_sales_store_daily
),

latest_day as (
    select date_key, calendar_date
    from :"schema".dim_date
    where date_key = (select max(date_key) from daily)
),

target_days as (
    select dim_date.date_key
    from :"schema".dim_date
    cross join latest_day
    where dim_date.calendar_date in (
        latest_day.calendar_date - 7,
        latest_day.calendar_date - 14,
        latest_day.calendar_date - 21,
        latest_day.calendar_date - 28
    )
),

targets as (
    select store_id, avg(revenue) as revenue_target
    from daily
    where date_key in (select date_key from target_days)
    group by store_id
),

today as (
    select daily.*
    from daily
    join latest_day on latest_day.date_key = daily.date_key
),

final as (
    select
        -- ids
        stores.store_id,
        stores.store_name,
        stores.region,
        latest_day.calendar_date as business_date,
        -- revenue against target
        coalesce(today.revenue, 0) as revenue,
        round(targets.revenue_target, 2) as revenue_target,
        round(100 * coalesce(today.revenue, 0) / nullif(targets.revenue_target, 0), 1) as pct_of_target,
        -- baskets
        coalesce(today.baskets, 0) as baskets,
        round(today.revenue / nullif(today.baskets, 0), 2) as avg_basket_value,
        round(today.units::numeric / nullif(today.baskets, 0), 2) as avg_basket_units,
        -- margin
        coalesce(today.gross_margin, 0) as gross_margin,
        round(100 * today.gross_margin / nullif(today.revenue, 0), 1) as gross_margin_pct
    from :"schema".dim_store as stores
    cross join latest_day
    left join today on today.store_id = stores.store_id
    left join targets on targets.store_id = stores.store_id
)

select * from final
order by store_id;

comment on view :"schema".v_store_performance is 'One row per store for the latest business day in gold.';

grant select on :"schema".v_store_performance to gold_analyst, gold_store_manager;
