-- The bins the calibration map is fitted on (spark_jobs/gold/calibration.py, `known_outcomes`
-- and `bin_outcomes`): every store-SKU day of the last %(history_days)s days before
-- %(as_of_day)s with a raw stockout probability whose lead time has ended (day + lead time
-- before %(as_of_day)s), and whether its book closing stock reached 0 on that day or within
-- the lead time after it.
-- Grain: one row per probability bin that holds at least one such day.

with recorded as (
    select
        -- ids
        snapshot.store_id,
        snapshot.sku,
        day.calendar_date,
        -- figures
        snapshot.stockout_probability_raw as probability,
        snapshot.stockout_lead_time_days as lead_time_days
    from :"schema".fact_inventory_snapshot as snapshot
    join :"schema".dim_date as day on day.date_key = snapshot.date_key
    where snapshot.stockout_probability_raw is not null
        and snapshot.stockout_lead_time_days is not null
        and day.calendar_date >= %(as_of_day)s::date - %(history_days)s::integer
        and day.calendar_date + snapshot.stockout_lead_time_days < %(as_of_day)s::date
),

outcomes as (
    select
        recorded.probability,
        exists (
            select 1
            from :"schema".fact_inventory_snapshot as later
            where later.store_id = recorded.store_id
                and later.sku = recorded.sku
                and later.date_key between to_char(recorded.calendar_date, 'YYYYMMDD')::integer
                and to_char(recorded.calendar_date + recorded.lead_time_days, 'YYYYMMDD')::integer
                and later.closing_on_hand <= 0
        ) as ran_out
    from recorded
),

final as (
    select
        least(greatest(floor(probability * %(bins)s)::integer, 0), %(bins)s - 1) as bin,
        count(*) as rows,
        sum(probability)::float8 as predicted,
        count(*) filter (where ran_out) as happened
    from outcomes
    group by 1
)

select * from final order by bin
