-- v_basket_sizes: how many items people buy at once, per store over the last 28 days of sales:
-- the number of baskets of each size (units), loyalty members and anonymous shoppers apart.

create view :"schema".v_basket_sizes with (security_invoker = true) as

with window_days as (
    select date_key
    from :"schema".v_last_28_days
    where facts = 'sales'
),

baskets as (
    select store_id, basket_id, bool_or(is_loyalty) as is_loyalty, sum(quantity) as units
    from :"schema".fact_sales
    -- a key range, not `in (window)`: the planner then reads the window through the index on
    -- (store_id, date_key) instead of the whole table (a semi-join it misjudges at half the rows)
    where date_key between (select min(date_key) from window_days)
        and (select max(date_key) from window_days)
    group by store_id, basket_id
),

final as (
    select
        -- ids
        store_id,
        units as basket_units,
        -- counts
        count(*) filter (where is_loyalty) as member_baskets,
        count(*) filter (where not is_loyalty) as anonymous_baskets,
        count(*) as baskets
    from baskets
    group by store_id, units
)

select * from final;

comment on view :"schema".v_basket_sizes is 'One row per store and basket size (units) in the last 28 days: baskets of that size.';

grant select on :"schema".v_basket_sizes to gold_analyst, gold_store_manager;
