-- stock_position: the stock model's current view of each store-SKU, replaced on every load.
-- See spark_jobs/gold/stock_model.py for each formula.

create table :"schema".stock_position (
    -- ids
    store_id                 text not null references :"schema".dim_store (store_id),
    sku                      text not null,
    -- position
    as_of                    timestamptz not null,        -- data time: the newest event the model saw
    on_hand                  integer not null,
    -- demand, units per day
    mean_7d                  numeric(12, 3) not null,
    mean_28d                 numeric(12, 3) not null,
    ewma                     numeric(12, 3) not null,
    demand_std               numeric(12, 3) not null,
    demand_days              integer not null,            -- in-stock days the statistics rest on
    dow_index                numeric(6, 3)[] not null check (cardinality(dow_index) = 7),  -- Monday first
    -- policy
    service_level            numeric(6, 4) not null,
    lead_time_days           integer not null,
    safety_stock             numeric(12, 2) not null,
    reorder_point            numeric(12, 2) not null,
    order_up_to_level        numeric(12, 2) not null,
    -- outlook
    days_of_cover            numeric(12, 2),              -- null when nothing sells
    predicted_stockout_date  date,                        -- null when the forecast horizon is covered
    recommended_order_qty    integer not null check (recommended_order_qty >= 0),
    risk                     text not null check (risk in ('stockout', 'below_reorder_point', 'ok', 'overstock')),
    -- timestamps
    loaded_at                timestamptz not null default now(),

    primary key (store_id, sku)
);

comment on table :"schema".stock_position is 'One row per store and SKU: the latest stock position, demand statistics and replenishment figures.';

create index stock_position_stockout_idx on :"schema".stock_position (predicted_stockout_date)
    where predicted_stockout_date is not null;
