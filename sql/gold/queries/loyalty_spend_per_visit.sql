-- Loyalty members against anonymous shoppers (gold.v_loyalty_spend), the largest uplift first.
-- Grain: one row per store.

select * from gold.v_loyalty_spend
order by member_uplift desc nulls last;
