-- fact_inventory_snapshot: the stock of each store-SKU at the end of each day, and how it moved.
-- closing = opening + received - sold + count_adjustment holds on every row: a stock count
-- replaces the book stock, and the difference it makes is the count adjustment (shrinkage).
-- Days start with the first stock count of a store-SKU, which anchors its position. Safety
-- stock, reorder point and risk are the stock model's values as of the load that wrote the row.

create table :"schema".fact_inventory_snapshot (
    -- ids
    store_id          text not null references :"schema".dim_store (store_id),
    sku               text not null,
    date_key          integer not null references :"schema".dim_date (date_key),
    -- units
    opening_on_hand   integer not null,
    sold              integer not null check (sold >= 0),
    received          integer not null check (received >= 0),
    count_adjustment  integer not null,
    closing_on_hand   integer not null,
    -- stock model
    safety_stock      numeric(12, 2),
    reorder_point     numeric(12, 2),
    risk              text not null check (risk in ('stockout', 'below_reorder_point', 'ok', 'overstock')),
    -- timestamps
    loaded_at         timestamptz not null default now(),

    primary key (store_id, sku, date_key),
    check (closing_on_hand = opening_on_hand + received - sold + count_adjustment)
);

comment on table :"schema".fact_inventory_snapshot is 'One row per store, SKU and day, from the first stock count of that store-SKU on.';

create index fact_inventory_snapshot_date_idx on :"schema".fact_inventory_snapshot (date_key, store_id);
create index fact_inventory_snapshot_risk_idx on :"schema".fact_inventory_snapshot (date_key) where risk <> 'ok';
