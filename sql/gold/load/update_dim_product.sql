-- Updates the product versions gold already has: type 1 attributes take the staged values, and
-- a version that a newer one follows is closed (valid_to set, no longer current).
-- Runs before insert_dim_product: the other order would briefly make two versions of a SKU
-- current, which the one-current-version index refuses.
-- Grain: one row per SKU version (sku, valid_from); the first version's valid_from is
-- '-infinity', staged as null.

update :"schema".dim_product as product
set product_name = staged.product_name,
    category = staged.category,
    brand = staged.brand,
    supplier_id = staged.supplier_id,
    lead_time_days = staged.lead_time_days,
    valid_to = staged.valid_to,
    is_current = staged.valid_to is null,
    loaded_at = now()
from stg_dim_product as staged
where product.sku = staged.sku
    and product.valid_from = coalesce(staged.valid_from, '-infinity')
