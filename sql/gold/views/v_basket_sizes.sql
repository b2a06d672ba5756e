-- v_basket_sizes: how many items people buy at once, per store over the last 28 days of sales:
-- the number of baskets of each size (units), loyalty members and anonymous shoppers apart.
-- Read from agg_basket_sizes_daily (migration 028), which counts them per store and day.

create view :"schema".v_basket_sizes with (security_invoker = true) as

with window_days as (
    select date_key
    from :"schema".v_last_28_days
    where facts = 'sales'
),

daily as (
    select *
    from :"schema".agg_basket_sizes_daily
    -- a key range, not `in (window)`: the planner then reads the window through the date index
    where date_key between (select min(date_key) from window_days)
        and (select max(date_key) from window_days)
),

final as (
    select
        -- ids
        store_id,
        basket_units,
        -- counts
        sum(member_baskets) as member_baskets,
        sum(anonymous_baskets) as anonymous_baskets,
        sum(member_baskets + anonymous_baskets) as baskets
    from daily
    group by store_id, basket_units
)

select * from final;

comment on view :"schema".v_basket_sizes is 'One row per store and basket size (units) in the last 28 days: baskets of that size.';

grant select on :"schema".v_basket_sizes to gold_analyst, gold_store_manager;
