-- v_store_daily_vs_target: each store's days over the last 8 weeks of sales in gold (from the
-- first day with sales on) against their revenue target: the one set in store_daily_targets,
-- else the seeding rule's (v_store_target_rule). Feeds "revenue today vs target", the heatmap
-- and the 8-week trend. A day on which none of the stores the login sees has a sale in gold is
-- flagged (day_has_sales false): a gap in the data (no events reached gold for it, as between
-- `make demo`'s backfill and its live phase), not a day every store fell short of its target.

create view :"schema".v_store_daily_vs_target with (security_invoker = true) as

with span as (
    select min(date_key) as first_key, max(date_key) as last_key
    from :"schema".agg_sales_store_daily
),

latest as (
    select dates.calendar_date
    from :"schema".dim_date as dates
    where dates.date_key = (select last_key from span)
),

days as (
    select dates.date_key, dates.calendar_date
    from :"schema".dim_date as dates
    cross join latest
    where dates.calendar_date > latest.calendar_date - 56
        and dates.calendar_date <= latest.calendar_date
        and dates.date_key >= (select first_key from span)
),

stores as (
    select store_id, store_name, region from :"schema".dim_store
),

daily as (
    select *
    from :"schema".agg_sales_store_daily
    where date_key in (select date_key from days)
),

sales_days as (
    select distinct date_key from daily
),

final as (
    select
        -- ids
        stores.store_id,
        stores.store_name,
        stores.region,
        days.calendar_date as business_date,
        extract(isodow from days.calendar_date)::integer as iso_weekday,
        sales_days.date_key is not null as day_has_sales,
        -- revenue against target
        coalesce(daily.revenue, 0) as revenue,
        coalesce(set_targets.revenue_target, rule.revenue_target) as revenue_target,
        case
            when set_targets.revenue_target is not null then set_targets.source
            when rule.revenue_target is not null then 'rule'
        end as target_source,
        round(
            100 * coalesce(daily.revenue, 0)
            / nullif(coalesce(set_targets.revenue_target, rule.revenue_target), 0),
            1
        ) as pct_of_target,
        -- baskets
        coalesce(daily.baskets, 0) as baskets,
        coalesce(daily.units, 0) as units,
        round(daily.revenue / nullif(daily.baskets, 0), 2) as avg_basket_value,
        round(daily.units::numeric / nullif(daily.baskets, 0), 2) as avg_basket_units,
        -- margin
        coalesce(daily.gross_margin, 0) as gross_margin,
        round(100 * daily.gross_margin / nullif(daily.revenue, 0), 1) as gross_margin_pct
    from stores
    cross join days
    left join daily on daily.store_id = stores.store_id and daily.date_key = days.date_key
    left join sales_days on sales_days.date_key = days.date_key
    left join :"schema".store_daily_targets as set_targets
        on set_targets.store_id = stores.store_id and set_targets.business_date = days.calendar_date
    left join :"schema".v_store_target_rule as rule
        on rule.store_id = stores.store_id and rule.business_date = days.calendar_date
)

select * from final;

comment on view :"schema".v_store_daily_vs_target is 'One row per store and day of the last 8 weeks of sales: revenue, target, baskets, margin.';

grant select on :"schema".v_store_daily_vs_target to gold_analyst, gold_store_manager;
