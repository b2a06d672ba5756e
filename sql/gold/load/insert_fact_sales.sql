-- Inserts the staged sales lines gold does not have yet, each with the product version and unit
-- cost in force when it was sold; lines already in gold are left as they are (facts never change).
-- Returns how many lines were inserted.
-- Grain: one row per basket line (event_id, line_number).

with staged as (
    select * from stg_fact_sales
),

priced as (
    select
        staged.*,
        product.product_key,
        product.unit_cost,
        to_char(staged.sold_at at time zone 'UTC', 'YYYYMMDD')::integer as date_key
    from staged
    join :"schema".dim_product as product
        on product.sku = staged.sku
        and staged.sold_at >= product.valid_from
        and staged.sold_at < coalesce(product.valid_to, 'infinity')
),

inserted as (
    insert into :"schema".fact_sales (
        event_id, line_number, basket_id, store_id, product_key, sku, date_key, sold_at,
        quantity, unit_price, discount, unit_cost, payment_method, loyalty_id
    )
    select
        event_id, line_number, basket_id, store_id, product_key, sku, date_key, sold_at,
        quantity, unit_price, coalesce(discount, 0), unit_cost, payment_method, loyalty_id
    from priced
    on conflict (event_id, line_number) do nothing
    returning 1
)

select count(*) from inserted
