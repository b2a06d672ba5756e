-- v_store_target_rule: the documented rule behind revenue targets (migration 019): a store's
-- target for a day is the average revenue of the same weekday in the four weeks before, over
-- the weeks it sold anything. Days run from a week after the first sales day to a week after the
-- latest, so tomorrow's target exists before tomorrow's sales.

create view :"schema".v_store_target_rule with (security_invoker = true) as

with daily as (
    select daily.store_id, dates.calendar_date, daily.revenue
    from :"schema".agg_sales_store_daily as daily
    join :"schema".dim_date as dates on dates.date_key = daily.date_key
),

span as (
    select min(calendar_date) + 7 as first_day, max(calendar_date) + 7 as last_day
    from daily
),

days as (
    select generate_series(span.first_day, span.last_day, interval '1 day')::date as business_date
    from span
),

stores as (
    select distinct store_id from daily
),

final as (
    select
        -- ids
        stores.store_id,
        days.business_date,
        -- target
        round(avg(history.revenue), 2) as revenue_target,
        count(*) as weeks_of_history
    from stores
    cross join days
    join daily as history
        on history.store_id = stores.store_id
        and history.calendar_date in (
            days.business_date - 7, days.business_date - 14, days.business_date - 21, days.business_date - 28
        )
    group by stores.store_id, days.business_date
)

select * from final;

comment on view :"schema".v_store_target_rule is 'One row per store and day: the revenue target the seeding rule gives it.';

grant select on :"schema".v_store_target_rule to gold_analyst, gold_store_manager;
