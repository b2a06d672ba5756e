-- v_cross_sell_pairs: which SKUs sell in the same basket, over the last 28 days of sales.
-- attach_rate = share of the baskets holding sku that also hold paired_sku. Read from the basket
-- aggregates (migration 028), which count baskets per store and day; a basket lies in one
-- store-day, so their sums over the window count each basket once.

create view :"schema".v_cross_sell_pairs with (security_invoker = true) as

with window_days as (
    select date_key
    from :"schema".v_last_28_days
    where facts = 'sales'
),

-- a key range, not `in (window)`: the planner then reads the window through the date indexes
window_range as (
    select min(date_key) as first_key, max(date_key) as last_key
    from window_days
),

baskets_per_sku as (
    select sku, sum(baskets) as baskets
    from :"schema".agg_sku_baskets_daily
    where date_key between (select first_key from window_range) and (select last_key from window_range)
    group by sku
),

pairs_once as (
    select sku, paired_sku, sum(baskets) as baskets_together
    from :"schema".agg_sku_pairs_daily
    where date_key between (select first_key from window_range) and (select last_key from window_range)
    group by sku, paired_sku
),

-- each pair is stored once in SKU order; attach rate differs by direction, so show both
pairs as (
    select
        case when direction.flipped then pairs_once.paired_sku else pairs_once.sku end as sku,
        case when direction.flipped then pairs_once.sku else pairs_once.paired_sku end as paired_sku,
        pairs_once.baskets_together
    from pairs_once
    cross join (values (false), (true)) as direction (flipped)
),

final as (
    select
        -- ids
        pairs.sku,
        pairs.paired_sku,
        -- counts
        pairs.baskets_together,
        first_sku.baskets as baskets_with_sku,
        second_sku.baskets as baskets_with_paired_sku,
        -- rate
        round(pairs.baskets_together::numeric / first_sku.baskets, 4) as attach_rate
    from pairs
    join baskets_per_sku as first_sku on first_sku.sku = pairs.sku
    join baskets_per_sku as second_sku on second_sku.sku = pairs.paired_sku
)

select * from final;

comment on view :"schema".v_cross_sell_pairs is 'One row per ordered pair of SKUs bought together in the last 28 days.';

grant select on :"schema".v_cross_sell_pairs to gold_analyst, gold_store_manager;
