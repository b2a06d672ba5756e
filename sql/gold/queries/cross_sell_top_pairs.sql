-- The strongest cross-sell pairs of the last 28 days: how often buyers of a SKU also take another.
-- Grain: one row per ordered pair of SKUs; only pairs seen in at least 20 baskets.

select
    pairs.sku,
    first_product.product_name,
    pairs.paired_sku,
    second_product.product_name as paired_product_name,
    pairs.baskets_together,
    pairs.attach_rate
from gold.v_cross_sell_pairs as pairs
left join gold.dim_product as first_product
    on first_product.sku = pairs.sku and first_product.is_current
left join gold.dim_product as second_product
    on second_product.sku = pairs.paired_sku and second_product.is_current
where pairs.baskets_together >= 20
order by pairs.attach_rate desc
limit 20;
