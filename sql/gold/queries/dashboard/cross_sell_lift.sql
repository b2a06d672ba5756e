-- The strongest cross-sell pairs of the last 28 days by lift (gold's v_cross_sell_lift), among
-- pairs seen in enough baskets.
-- Grain: one row per ordered pair of SKUs. Parameters: min_baskets (integer), top (integer).

select * from :"schema".v_cross_sell_lift
where baskets_together >= %(min_baskets)s
order by lift desc, baskets_together desc, sku, paired_sku
limit %(top)s;
