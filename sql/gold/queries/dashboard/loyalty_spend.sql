-- Loyalty members against anonymous shoppers: spend per visit per store, last 28 days.
-- Grain: one row per store. Parameters: stores (text[]).

select
    store_id,
    store_name,
    member_visits,
    member_spend_per_visit,
    anonymous_visits,
    anonymous_spend_per_visit,
    member_revenue_pct
from :"schema".v_loyalty_spend
where store_id = any(%(stores)s)
order by store_id;
