-- Replaces the open order lines of every store-SKU this load evaluated with the staged ones,
-- found open at the load's data time (parameter as_of); other store-SKUs keep theirs.
-- Grain: one row per open purchase order line (store, SKU and order).

delete from :"schema".open_orders as open_line
using stg_stock_position as staged
where open_line.store_id = staged.store_id and open_line.sku = staged.sku;

insert into :"schema".open_orders (
    store_id, sku, order_id, supplier_id, ordered_at, expected_at, ordered, status, as_of
)
select store_id, sku, order_id, supplier_id, ordered_at, expected_at, ordered, status, %(as_of)s
from stg_open_orders
where store_id in (select store_id from :"schema".dim_store)
on conflict (store_id, sku, order_id) do nothing;
