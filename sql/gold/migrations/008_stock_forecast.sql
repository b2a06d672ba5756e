-- stock_forecast: the daily demand forecast of each store-SKU, replaced on every load.

create table :"schema".stock_forecast (
    -- ids
    store_id         text not null references :"schema".dim_store (store_id),
    sku              text not null,
    forecast_date    date not null,
    -- numerics
    forecast_units   numeric(12, 3) not null check (forecast_units >= 0),
    -- timestamps
    as_of            timestamptz not null,               -- data time the forecast was made from
    loaded_at        timestamptz not null default now(),

    primary key (store_id, sku, forecast_date)
);

comment on table :"schema".stock_forecast is 'One row per store, SKU and forecast day (the next days after the latest load).';
