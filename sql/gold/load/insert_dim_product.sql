-- Inserts the staged product versions gold does not have yet (SCD type 2: a new unit cost or
-- price is a new version). Runs after update_dim_product has closed the versions they follow.
-- Grain: one row per SKU version (sku, valid_from).

with staged as (
    select
        sku, product_name, category, brand, supplier_id, lead_time_days, unit_cost, price,
        coalesce(valid_from, '-infinity') as valid_from,
        valid_to
    from stg_dim_product
),

new_versions as (
    select staged.*
    from staged
    where not exists (
        select 1 from :"schema".dim_product as product
        where product.sku = staged.sku and product.valid_from = staged.valid_from
    )
)

insert into :"schema".dim_product (
    sku, product_name, category, brand, supplier_id, lead_time_days, unit_cost, price,
    valid_from, valid_to, is_current
)
select
    sku, product_name, category, brand, supplier_id, lead_time_days, unit_cost, price,
    valid_from, valid_to, valid_to is null
from new_versions
