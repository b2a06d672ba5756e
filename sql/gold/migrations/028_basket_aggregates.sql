-- Basket-level aggregates for the customer-behaviour figures: cross-sell attach rate and lift
-- (v_cross_sell_pairs, v_cross_sell_lift) and the basket size distribution (v_basket_sizes).
-- Read from fact_sales, those figures group 28 days of lines by basket and join every basket with
-- itself on each page view: seconds on millions of lines. These tables hold the same counts per
-- store and day, recomputed from fact_sales for every store-day a load touches
-- (refresh_basket_aggregates, run by the load right after refresh_agg_sales_store_daily), so they
-- always reconcile with the facts. A basket is one sale event: its lines share store, time and
-- day, so each basket lies in exactly one store-day and a sum over days counts it once.

-- The baskets holding each SKU: the denominator of attach rate and lift.
create table :"schema".agg_sku_baskets_daily (
    -- ids
    store_id    text not null references :"schema".dim_store (store_id),
    date_key    integer not null references :"schema".dim_date (date_key),
    sku         text not null,
    -- counts
    baskets     integer not null check (baskets > 0),

    primary key (store_id, date_key, sku)
);

comment on table :"schema".agg_sku_baskets_daily is 'One row per store, day and SKU sold: the baskets holding that SKU.';

create index agg_sku_baskets_daily_date_idx on :"schema".agg_sku_baskets_daily (date_key);

-- The baskets holding both SKUs of a pair. Each pair is stored once, in SKU order (sku <
-- paired_sku): "baskets holding both" does not depend on the order, so views read both orders
-- from one row.
create table :"schema".agg_sku_pairs_daily (
    -- ids
    store_id    text not null references :"schema".dim_store (store_id),
    date_key    integer not null references :"schema".dim_date (date_key),
    sku         text not null,
    paired_sku  text not null,
    -- counts
    baskets     integer not null check (baskets > 0),

    primary key (store_id, date_key, sku, paired_sku),
    check (sku < paired_sku)
);

comment on table :"schema".agg_sku_pairs_daily is 'One row per store, day and pair of SKUs (sku < paired_sku) sold in the same basket: the baskets holding both.';

create index agg_sku_pairs_daily_date_idx on :"schema".agg_sku_pairs_daily (date_key);

-- How many baskets of each size (units), loyalty members and anonymous shoppers apart.
create table :"schema".agg_basket_sizes_daily (
    -- ids
    store_id           text not null references :"schema".dim_store (store_id),
    date_key           integer not null references :"schema".dim_date (date_key),
    basket_units       integer not null check (basket_units > 0),
    -- counts
    member_baskets     integer not null check (member_baskets >= 0),
    anonymous_baskets  integer not null check (anonymous_baskets >= 0),

    primary key (store_id, date_key, basket_units),
    check (member_baskets + anonymous_baskets > 0)
);

comment on table :"schema".agg_basket_sizes_daily is 'One row per store, day and basket size (units) sold: member and anonymous baskets of that size.';

create index agg_basket_sizes_daily_date_idx on :"schema".agg_basket_sizes_daily (date_key);

-- Recomputes the given store-days of the three tables from fact_sales; loads pass the store-days
-- they touched, as they do to refresh_agg_sales_store_daily. Returns how many store-days it read.
-- Delete and insert rather than upsert: a store-day's rows are then exactly what its facts give.
create function :"schema".refresh_basket_aggregates(store_days_json jsonb) returns integer
language plpgsql as $$
declare
    store_days integer;
begin
    create temporary table basket_store_days on commit drop as
    select distinct store_id, date_key
    from jsonb_to_recordset(store_days_json) as t (store_id text, date_key integer);
    analyze basket_store_days;
    select count(*) into store_days from basket_store_days;

    delete from agg_sku_baskets_daily as a using basket_store_days as t
    where a.store_id = t.store_id and a.date_key = t.date_key;
    delete from agg_sku_pairs_daily as a using basket_store_days as t
    where a.store_id = t.store_id and a.date_key = t.date_key;
    delete from agg_basket_sizes_daily as a using basket_store_days as t
    where a.store_id = t.store_id and a.date_key = t.date_key;

    with lines as materialized (
        select f.store_id, f.date_key, f.basket_id, f.sku, f.quantity, f.is_loyalty
        from fact_sales as f
        join basket_store_days as t on f.store_id = t.store_id and f.date_key = t.date_key
    ),

    basket_skus as materialized (
        select distinct store_id, date_key, basket_id, sku
        from lines
    ),

    baskets as (
        select store_id, date_key, basket_id, bool_or(is_loyalty) as is_loyalty, sum(quantity) as units
        from lines
        group by store_id, date_key, basket_id
    ),

    sku_baskets as (
        insert into agg_sku_baskets_daily (store_id, date_key, sku, baskets)
        select store_id, date_key, sku, count(*)
        from basket_skus
        group by store_id, date_key, sku
    ),

    pairs as (
        insert into agg_sku_pairs_daily (store_id, date_key, sku, paired_sku, baskets)
        select first_line.store_id, first_line.date_key, first_line.sku, second_line.sku, count(*)
        from basket_skus as first_line
        join basket_skus as second_line
            on second_line.store_id = first_line.store_id
            and second_line.date_key = first_line.date_key
            and second_line.basket_id = first_line.basket_id
            and second_line.sku > first_line.sku
        group by first_line.store_id, first_line.date_key, first_line.sku, second_line.sku
    )

    -- data-modifying CTEs run to completion whether or not the statement reads them
    insert into agg_basket_sizes_daily (store_id, date_key, basket_units, member_baskets, anonymous_baskets)
    select
        store_id,
        date_key,
        units,
        count(*) filter (where is_loyalty),
        count(*) filter (where not is_loyalty)
    from baskets
    group by store_id, date_key, units;

    drop table basket_store_days;
    return store_days;
end
$$;

alter function :"schema".refresh_basket_aggregates(jsonb) set search_path = :"schema";

-- Fill them for the facts gold already holds.
select :"schema".refresh_basket_aggregates(
    (select coalesce(jsonb_agg(jsonb_build_object('store_id', store_id, 'date_key', date_key)), '[]'::jsonb)
     from :"schema".agg_sales_store_daily)
);

-- Read as agg_sales_store_daily is: analysts every store, store managers their own.
grant select on
    :"schema".agg_sku_baskets_daily,
    :"schema".agg_sku_pairs_daily,
    :"schema".agg_basket_sizes_daily
to gold_analyst, gold_store_manager;

alter table :"schema".agg_sku_baskets_daily enable row level security;
create policy analyst_reads_all on :"schema".agg_sku_baskets_daily for select to gold_analyst using (true);
create policy manager_reads_own_stores on :"schema".agg_sku_baskets_daily for select to gold_store_manager
    using (store_id in (select store_id from :"schema".store_access where role_name = current_user));

alter table :"schema".agg_sku_pairs_daily enable row level security;
create policy analyst_reads_all on :"schema".agg_sku_pairs_daily for select to gold_analyst using (true);
create policy manager_reads_own_stores on :"schema".agg_sku_pairs_daily for select to gold_store_manager
    using (store_id in (select store_id from :"schema".store_access where role_name = current_user));

alter table :"schema".agg_basket_sizes_daily enable row level security;
create policy analyst_reads_all on :"schema".agg_basket_sizes_daily for select to gold_analyst using (true);
create policy manager_reads_own_stores on :"schema".agg_basket_sizes_daily for select to gold_store_manager
    using (store_id in (select store_id from :"schema".store_access where role_name = current_user));
