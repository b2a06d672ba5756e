-- fact_sales: every basket line sold, with its revenue, cost and margin.
-- Revenue is the line's net amount (quantity x unit price - discount); cost uses the unit cost
-- of the product version in force at the sale. Both are generated, so no load can disagree.

create table :"schema".fact_sales (
    -- ids
    event_id        uuid not null,
    line_number     smallint not null check (line_number >= 1),
    basket_id       uuid not null,
    store_id        text not null references :"schema".dim_store (store_id),
    product_key     bigint not null references :"schema".dim_product (product_key),
    sku             text not null,
    date_key        integer not null references :"schema".dim_date (date_key),
    -- timestamps
    sold_at         timestamptz not null,
    -- numerics
    quantity        integer not null check (quantity > 0),
    unit_price      numeric(12, 2) not null check (unit_price >= 0),
    discount        numeric(12, 2) not null default 0 check (discount >= 0),
    unit_cost       numeric(12, 2) not null check (unit_cost >= 0),
    revenue         numeric(14, 2) generated always as (quantity * unit_price - discount) stored,
    cost            numeric(14, 2) generated always as (quantity * unit_cost) stored,
    gross_margin    numeric(14, 2) generated always as (quantity * unit_price - discount - quantity * unit_cost) stored,
    -- attributes
    payment_method  text not null,
    loyalty_id      text,
    is_loyalty      boolean generated always as (loyalty_id is not null) stored,
    loaded_at       timestamptz not null default now(),

    primary key (event_id, line_number)
);

comment on table :"schema".fact_sales is 'One row per basket line (sale event_id, line_number).';

-- Store-day reads (aggregate refresh, store performance) and basket reads (cross-sell).
create index fact_sales_store_date_idx on :"schema".fact_sales (store_id, date_key);
create index fact_sales_basket_idx on :"schema".fact_sales (basket_id);
create index fact_sales_product_idx on :"schema".fact_sales (product_key);
