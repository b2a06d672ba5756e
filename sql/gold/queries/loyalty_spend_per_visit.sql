-- Loyalty members against anonymous shoppers: spend per visit per store, last 28 days.
-- Grain: one row per store.

select
    store_id,
    store_name,
    member_visits,
    member_spend_per_visit,
    anonymous_visits,
    anonymous_spend_per_visit,
    round(member_spend_per_visit / nullif(anonymous_spend_per_visit, 0), 2) as member_uplift,
    member_revenue_pct
from gold.v_loyalty_spend
order by member_uplift desc nulls last;
