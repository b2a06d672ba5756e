-- Each store on the latest business day against its target (same weekday, previous four weeks),
-- with basket size and gross margin. Grain: one row per store.

select
    store_id,
    store_name,
    business_date,
    revenue,
    revenue_target,
    pct_of_target,
    baskets,
    avg_basket_value,
    gross_margin_pct
from gold.v_store_performance
order by pct_of_target nulls last;
