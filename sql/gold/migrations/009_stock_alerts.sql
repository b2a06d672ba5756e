-- stock_alerts: one row per alert episode of a store-SKU and kind, from first seen to resolved.
-- At most one alert per store, SKU and kind is open (resolved_at is null); an escalation raises
-- the severity of that same row. first_seen_at, last_seen_at and resolved_at are data time
-- (the newest event the load saw), so alerts line up with the simulated clock.
-- needs_publish is an outbox flag: set with the change in the load's transaction, cleared once
-- the alert is on SNS, so each new or escalated alert is published once even after a crash.

create table :"schema".stock_alerts (
    -- ids
    alert_id                 bigint generated always as identity primary key,
    store_id                 text not null references :"schema".dim_store (store_id),
    sku                      text not null,
    kind                     text not null
        check (kind in ('stockout', 'below_reorder_point', 'predicted_stockout', 'overstock')),
    -- urgency
    severity                 text not null check (severity in ('low', 'medium', 'high', 'critical')),
    severity_rank            smallint generated always as (
        case severity when 'critical' then 4 when 'high' then 3 when 'medium' then 2 else 1 end
    ) stored,
    -- figures at the last evaluation
    on_hand                  integer not null,
    reorder_point            numeric(12, 2) not null,
    predicted_stockout_date  date,
    recommended_order_qty    integer not null,
    -- lifecycle (data time)
    first_seen_at            timestamptz not null,
    last_seen_at             timestamptz not null,
    escalated_at             timestamptz,
    resolved_at              timestamptz,
    -- publication
    needs_publish            boolean not null default true,
    published_severity       text,
    published_at             timestamptz,
    updated_at               timestamptz not null default now(),

    check (last_seen_at >= first_seen_at),
    check (resolved_at is null or resolved_at >= first_seen_at)
);

comment on table :"schema".stock_alerts is 'One row per alert episode: a store, SKU and kind from first seen until resolved.';

create unique index stock_alerts_one_open_idx on :"schema".stock_alerts (store_id, sku, kind)
    where resolved_at is null;
create index stock_alerts_open_urgency_idx on :"schema".stock_alerts (severity_rank desc, predicted_stockout_date, store_id)
    where resolved_at is null;
create index stock_alerts_publish_idx on :"schema".stock_alerts (alert_id) where needs_publish;
create index stock_alerts_store_sku_idx on :"schema".stock_alerts (store_id, sku, first_seen_at);
