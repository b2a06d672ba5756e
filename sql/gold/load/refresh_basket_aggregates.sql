-- Recomputes the basket aggregates (agg_sku_baskets_daily, agg_sku_pairs_daily,
-- agg_basket_sizes_daily: refresh_basket_aggregates, migration 028) for every store and day the
-- staged sales lines touch. Returns how many store-days it read.
-- Grain: one row per store and day.

with touched as (
    select distinct
        store_id,
        to_char(sold_at at time zone 'UTC', 'YYYYMMDD')::integer as date_key
    from stg_fact_sales
),

store_days as (
    select coalesce(jsonb_agg(jsonb_build_object('store_id', store_id, 'date_key', date_key)), '[]'::jsonb)
        as store_days_json
    from touched
)

select :"schema".refresh_basket_aggregates(store_days_json) from store_days
