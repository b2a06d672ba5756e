-- Revenue against target, baskets and margin per store and day over the last 8 weeks of sales.
-- Grain: one row per store and day. Parameters: stores (text[]).

select
    store_id,
    store_name,
    region,
    business_date,
    iso_weekday,
    day_has_sales,
    revenue,
    revenue_target,
    target_source,
    pct_of_target,
    baskets,
    units,
    avg_basket_value,
    avg_basket_units,
    gross_margin,
    gross_margin_pct
from :"schema".v_store_daily_vs_target
where store_id = any(%(stores)s)
order by business_date, store_id;
