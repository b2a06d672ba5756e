-- Staged sales lines that name a store or a SKU (version) gold does not know: the load stops on
-- them rather than drop revenue. Silver's reference checks should have quarantined them.
-- Grain: one row (how many, and one store and one SKU as examples).

with staged as (
    select * from stg_fact_sales
),

unmatched as (
    select
        staged.store_id,
        staged.sku,
        not exists (
            select 1 from :"schema".dim_store as store where store.store_id = staged.store_id
        ) as no_store,
        not exists (
            select 1 from :"schema".dim_product as product
            where product.sku = staged.sku and product.valid_from <= staged.sold_at
        ) as no_product
    from staged
)

select count(*), min(store_id) filter (where no_store), min(sku) filter (where no_product)
from unmatched
where no_store or no_product
