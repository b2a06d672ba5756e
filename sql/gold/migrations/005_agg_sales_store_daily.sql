-- agg_sales_store_daily: the daily sales aggregate per store, recomputed from fact_sales for
-- every store-day a load touches, so it always reconciles with the facts (facts are never
-- deleted, so a touched store-day always has lines).

create table :"schema".agg_sales_store_daily (
    -- ids
    store_id          text not null references :"schema".dim_store (store_id),
    date_key          integer not null references :"schema".dim_date (date_key),
    -- counts
    baskets           integer not null,
    lines             integer not null,
    units             integer not null,
    loyalty_baskets   integer not null,
    -- money
    revenue           numeric(16, 2) not null,
    discount          numeric(16, 2) not null,
    cost              numeric(16, 2) not null,
    gross_margin      numeric(16, 2) not null,
    loyalty_revenue   numeric(16, 2) not null,
    -- timestamps
    refreshed_at      timestamptz not null default now(),

    primary key (store_id, date_key),
    check (loyalty_baskets <= baskets)
);

comment on table :"schema".agg_sales_store_daily is 'One row per store and day with sales.';

create index agg_sales_store_daily_date_idx on :"schema".agg_sales_store_daily (date_key);

-- Recomputes the given store-days from fact_sales; loads pass the store-days they touched.
create function :"schema".refresh_agg_sales_store_daily(store_days_json jsonb) returns integer
language sql as $$
    with touched as (
        select distinct store_id, date_key
        from jsonb_to_recordset(store_days_json) as t (store_id text, date_key integer)
    ),

    lines as (
        select f.*
        from fact_sales as f
        join touched as t on f.store_id = t.store_id and f.date_key = t.date_key
    ),

    final as (
        select
            store_id,
            date_key,
            count(distinct basket_id)::integer as baskets,
            count(*)::integer as lines,
            sum(quantity)::integer as units,
            count(distinct basket_id) filter (where is_loyalty)::integer as loyalty_baskets,
            sum(revenue) as revenue,
            sum(discount) as discount,
            sum(cost) as cost,
            sum(gross_margin) as gross_margin,
            coalesce(sum(revenue) filter (where is_loyalty), 0) as loyalty_revenue
        from lines
        group by store_id, date_key
    ),

    inserted as (
        insert into agg_sales_store_daily (
            store_id, date_key, baskets, lines, units, loyalty_baskets,
            revenue, discount, cost, gross_margin, loyalty_revenue
        )
        select * from final
        on conflict (store_id, date_key) do update set
            baskets = excluded.baskets,
            lines = excluded.lines,
            units = excluded.units,
            loyalty_baskets = excluded.loyalty_baskets,
            revenue = excluded.revenue,
            discount = excluded.discount,
            cost = excluded.cost,
            gross_margin = excluded.gross_margin,
            loyalty_revenue = excluded.loyalty_revenue,
            refreshed_at = now()
        returning 1
    )

    select count(*)::integer from inserted
$$;

alter function :"schema".refresh_agg_sales_store_daily(jsonb) set search_path = :"schema";
