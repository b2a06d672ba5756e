-- The strongest cross-sell pairs of the last 28 days (gold.v_cross_sell_lift): how often buyers
-- of a SKU also take another, among pairs seen in at least 20 baskets.
-- Grain: one row per ordered pair of SKUs.

select sku, product_name, paired_sku, paired_product_name, baskets_together, attach_rate
from gold.v_cross_sell_lift
where baskets_together >= 20
order by attach_rate desc
limit 20;
