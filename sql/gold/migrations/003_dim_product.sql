-- dim_product: products with price and cost history kept as SCD type 2.
-- A new version starts whenever unit_cost or price changes; name, category, brand, supplier and
-- lead time are type 1 (every version shows the latest). Facts keep the product_key of the
-- version in force when they happened, so margins stay what they were.

create table :"schema".dim_product (
    -- ids
    product_key     bigint generated always as identity primary key,
    sku             text not null,
    -- type 1 attributes
    product_name    text not null,
    category        text not null,
    brand           text,
    supplier_id     text,
    lead_time_days  integer check (lead_time_days >= 0),
    -- type 2 attributes
    unit_cost       numeric(12, 2) not null check (unit_cost >= 0),
    price           numeric(12, 2) not null check (price >= 0),
    -- validity
    valid_from      timestamptz not null,       -- '-infinity' for the first version
    valid_to        timestamptz,                -- null while current
    is_current      boolean not null,
    loaded_at       timestamptz not null default now(),

    unique (sku, valid_from),
    check (valid_to is null or valid_to > valid_from),
    check (is_current = (valid_to is null))
);

comment on table :"schema".dim_product is
    'One row per product version: a SKU gets a new row whenever its unit cost or price changes (SCD type 2).';

create unique index dim_product_current_idx on :"schema".dim_product (sku) where is_current;
create index dim_product_category_idx on :"schema".dim_product (category) where is_current;
