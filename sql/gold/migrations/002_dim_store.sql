-- dim_store: the stores, as their latest snapshot describes them (SCD type 1).

create table :"schema".dim_store (
    -- ids
    store_id       text primary key,
    -- attributes
    store_name     text not null,
    region         text not null,
    city           text,
    state          text,
    manager        text,
    timezone       text not null,
    store_size     text,
    square_meters  integer,
    opens_at       text,
    closes_at      text,
    -- timestamps
    snapshot_at    timestamptz not null,        -- event time of the snapshot these values come from
    loaded_at      timestamptz not null default now()
);

comment on table :"schema".dim_store is 'One row per store (type 1: the latest snapshot wins).';

create index dim_store_region_idx on :"schema".dim_store (region);
