-- Adds to dim_date the days from the first to the last day the staged rows touch (sales,
-- snapshots, forecasts), before anything joins to it; nothing when nothing is staged.
-- Returns how many days were added.
-- Grain: one row per calendar day.

with staged_days as (
    select (sold_at at time zone 'UTC')::date as day from stg_fact_sales
    union all
    select calendar_date from stg_inventory_snapshot
    union all
    select forecast_date from stg_stock_forecast
),

staged_range as (
    select min(day) as first_day, max(day) as last_day from staged_days
)

select :"schema".ensure_dim_date(first_day, last_day) from staged_range
