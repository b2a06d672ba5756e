-- v_alert_episodes: every alert episode, open or resolved, with what people did about it: the
-- latest acknowledgement and whether one covers the alert's current severity. `acknowledged` is
-- true when an acknowledgement was made at the current severity or a higher one, so an alert
-- whose severity rose since asks for attention again.

create view :"schema".v_alert_episodes with (security_invoker = true) as

with acknowledgements as (
    select
        alert_id,
        count(*) as acknowledgements,
        max(severity_rank) as acknowledged_rank,
        max(acknowledged_at) as last_acknowledged_at
    from :"schema".alert_acknowledgements
    group by alert_id
),

latest_acknowledgement as (
    select distinct on (alert_id) alert_id, acknowledged_by, note
    from :"schema".alert_acknowledgements
    order by alert_id, acknowledged_at desc, acknowledgement_id desc
),

stores as (
    select store_id, store_name, region from :"schema".dim_store
),

products as (
    select sku, product_name, category, supplier_id
    from :"schema".dim_product
    where is_current
),

final as (
    select
        -- ids
        alerts.alert_id,
        alerts.store_id,
        stores.store_name,
        alerts.sku,
        products.product_name,
        products.category,
        products.supplier_id,
        -- urgency
        alerts.kind,
        alerts.severity,
        alerts.severity_rank,
        alerts.resolved_at is null as is_open,
        -- figures at the last evaluation
        alerts.on_hand,
        alerts.reorder_point,
        alerts.predicted_stockout_date,
        alerts.recommended_order_qty,
        -- lifecycle (data time)
        alerts.first_seen_at,
        alerts.last_seen_at,
        alerts.escalated_at,
        alerts.resolved_at,
        alerts.published_at,
        -- acknowledgement
        coalesce(acknowledgements.acknowledged_rank >= alerts.severity_rank, false) as acknowledged,
        coalesce(acknowledgements.acknowledgements, 0) as acknowledgements,
        acknowledgements.last_acknowledged_at,
        latest_acknowledgement.acknowledged_by as last_acknowledged_by,
        latest_acknowledgement.note as last_acknowledgement_note
    from :"schema".stock_alerts as alerts
    join stores on stores.store_id = alerts.store_id
    left join products on products.sku = alerts.sku
    left join acknowledgements on acknowledgements.alert_id = alerts.alert_id
    left join latest_acknowledgement on latest_acknowledgement.alert_id = alerts.alert_id
)

select * from final;

comment on view :"schema".v_alert_episodes is 'One row per alert episode, open or resolved, with its latest acknowledgement.';

grant select on :"schema".v_alert_episodes to gold_analyst, gold_store_manager;
