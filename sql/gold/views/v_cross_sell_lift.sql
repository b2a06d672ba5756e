-- v_cross_sell_lift: cross-sell pairs of the last 28 days with their lift, not only their
-- co-occurrence. attach_rate (share of the baskets holding sku that also hold paired_sku) is high
-- for any paired_sku that is in most baskets anyway: the single best seller tops every list.
-- lift = attach_rate / share of all baskets holding paired_sku; above 1 the pair sells together
-- more often than chance would have it.

create view :"schema".v_cross_sell_lift with (security_invoker = true) as

with pairs as (
    select * from :"schema".v_cross_sell_pairs
),

window_days as (
    select date_key
    from :"schema".v_last_28_days
    where facts = 'sales'
),

all_baskets as (
    select sum(baskets) as baskets
    from :"schema".agg_sales_store_daily
    where date_key in (select date_key from window_days)
),

products as (
    select sku, product_name
    from :"schema".dim_product
    where is_current
),

final as (
    select
        -- ids
        pairs.sku,
        first_product.product_name,
        pairs.paired_sku,
        second_product.product_name as paired_product_name,
        -- counts
        pairs.baskets_together,
        pairs.baskets_with_sku,
        pairs.baskets_with_paired_sku,
        all_baskets.baskets as baskets,
        -- rates
        pairs.attach_rate,
        round(pairs.baskets_with_paired_sku::numeric / nullif(all_baskets.baskets, 0), 4) as paired_sku_share,
        round(
            pairs.baskets_together::numeric * all_baskets.baskets
            / nullif(pairs.baskets_with_sku::numeric * pairs.baskets_with_paired_sku, 0),
            2
        ) as lift
    from pairs
    cross join all_baskets
    left join products as first_product on first_product.sku = pairs.sku
    left join products as second_product on second_product.sku = pairs.paired_sku
)

select * from final;

comment on view :"schema".v_cross_sell_lift is 'One row per ordered pair of SKUs bought together in the last 28 days, with lift.';

grant select on :"schema".v_cross_sell_lift to gold_analyst, gold_store_manager;
