-- Revenue, margin and baskets per region and ISO week, from the daily aggregate.
-- Grain: one row per region and week.

with daily as (
    select * from gold.agg_sales_store_daily
),

joined as (
    select
        stores.region,
        dates.iso_year,
        dates.iso_week,
        daily.revenue,
        daily.gross_margin,
        daily.baskets
    from daily
    join gold.dim_store as stores on stores.store_id = daily.store_id
    join gold.dim_date as dates on dates.date_key = daily.date_key
),

final as (
    select
        region,
        iso_year,
        iso_week,
        sum(revenue) as revenue,
        round(100 * sum(gross_margin) / nullif(sum(revenue), 0), 1) as gross_margin_pct,
        sum(baskets) as baskets
    from joined
    group by region, iso_year, iso_week
)

select * from final
order by iso_year desc, iso_week desc, region;
