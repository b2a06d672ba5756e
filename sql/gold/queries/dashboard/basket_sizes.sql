-- How many units a basket holds, members and anonymous shoppers apart, last 28 days.
-- Grain: one row per basket size (units). Parameters: stores (text[]).

select
    basket_units,
    sum(member_baskets) as member_baskets,
    sum(anonymous_baskets) as anonymous_baskets,
    sum(baskets) as baskets
from :"schema".v_basket_sizes
where store_id = any(%(stores)s)
group by basket_units
order by basket_units;
