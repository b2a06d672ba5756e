-- What one gold load fitted, per category, for its MLflow run (spark_jobs/gold/fit_tracking.py):
-- the store-SKUs it evaluated (stock_position rows stamped with its data time, parameter as_of),
-- their mean level, promotion elasticity and dispersion, mean stockout probability and how many
-- reach the alert threshold (parameter alert_min_probability).
-- Grain: one row per category.

select
    coalesce(product.category, '(unknown)') as category,
    count(*) as store_skus,
    avg(position.ewma)::float8 as mean_level,
    avg(position.promotion_elasticity)::float8 as mean_elasticity,
    avg(position.demand_dispersion)::float8 as mean_dispersion,
    avg(position.stockout_probability)::float8 as mean_stockout_probability,
    count(*) filter (where position.stockout_probability >= %(alert_min_probability)s) as at_risk
from :"schema".stock_position as position
left join :"schema".dim_product as product
    on product.sku = position.sku and product.valid_to is null
where position.as_of = %(as_of)s
group by 1
order by 1;
