-- open_orders: the purchase order lines still to come, as of the latest load: ordered and not yet
-- received. A delivery carrying the order id closes its line whatever it brought (a short
-- delivery is not followed by the rest), so a line is here until its delivery arrives; one whose
-- expected time has passed is 'late' and still counted as on order. Replaced for every store-SKU
-- a load evaluates; stock_position.on_order is their sum.

create table :"schema".open_orders (
    -- ids
    store_id       text not null references :"schema".dim_store (store_id),
    sku            text not null,
    order_id       text not null,
    supplier_id    text,
    -- timestamps
    ordered_at     timestamptz not null,
    expected_at    timestamptz not null,
    -- numerics
    ordered        integer not null check (ordered > 0),
    -- state
    status         text not null check (status in ('open', 'late')),
    as_of          timestamptz not null,               -- data time of the load that found it open
    loaded_at      timestamptz not null default now(),

    primary key (store_id, sku, order_id)
);

comment on table :"schema".open_orders is 'One row per open purchase order line: store, SKU and order, ordered and not yet received.';

create index open_orders_expected_idx on :"schema".open_orders (store_id, sku, expected_at);
