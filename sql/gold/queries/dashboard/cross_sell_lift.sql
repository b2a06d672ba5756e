-- The strongest cross-sell pairs of the last 28 days by lift (how much more often than chance
-- the two share a basket), with their attach rate, among pairs seen in enough baskets.
-- Grain: one row per ordered pair of SKUs. Parameters: min_baskets (integer), top (integer).

select
    pairs.sku,
    first_product.product_name,
    pairs.paired_sku,
    second_product.product_name as paired_product_name,
    pairs.baskets_together,
    pairs.attach_rate,
    pairs.paired_sku_share,
    pairs.lift
from :"schema".v_cross_sell_lift as pairs
left join :"schema".dim_product as first_product
    on first_product.sku = pairs.sku and first_product.is_current
left join :"schema".dim_product as second_product
    on second_product.sku = pairs.paired_sku and second_product.is_current
where pairs.baskets_together >= %(min_baskets)s
order by pairs.lift desc, pairs.baskets_together desc, pairs.sku, pairs.paired_sku
limit %(top)s;
