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

-- each sales day is history for the same weekday one to four weeks later: one pass over the
-- days, where pairing every store-day with its four earlier weekdays joined store-days with
-- store-days (a second on a year of 20 stores)
history as (
    select daily.store_id, daily.calendar_date + 7 * weeks.later as business_date, daily.revenue
    from daily
    cross join generate_series(1, 4) as weeks (later)
),

final as (
    select
        -- ids
        history.store_id,
        history.business_date,
        -- target
        round(avg(history.revenue), 2) as revenue_target,
        count(*) as weeks_of_history
    from history
    cross join span
    where history.business_date between span.first_day and span.last_day
    group by history.store_id, history.business_date
)

select * from final;

comment on view :"schema".v_store_target_rule is 'One row per store and day: the revenue target the seeding rule gives it.';

grant select on :"schema".v_store_target_rule to gold_analyst, gold_store_manager;
