-- v_open_alerts: the open stock alerts, most urgent first: by severity, then by the probability
-- of a stockout within the lead time.

create view :"schema".v_open_alerts with (security_invoker = true) as

with open_alerts as (
    select *
    from :"schema".stock_alerts
    where resolved_at is null
),

stores as (
    select store_id, store_name, region from :"schema".dim_store
),

products as (
    select sku, product_name, category
    from :"schema".dim_product
    where is_current
),

final as (
    select
        -- ids
        open_alerts.alert_id,
        open_alerts.store_id,
        stores.store_name,
        open_alerts.sku,
        products.product_name,
        products.category,
        -- urgency
        open_alerts.severity,
        open_alerts.severity_rank,
        open_alerts.kind,
        -- figures
        open_alerts.stockout_probability,
        open_alerts.expected_stockout_date,
        open_alerts.on_hand,
        open_alerts.on_order,
        open_alerts.recommended_order_qty,
        open_alerts.reorder_point,
        open_alerts.predicted_stockout_date,
        -- timestamps
        open_alerts.first_seen_at,
        open_alerts.last_seen_at,
        open_alerts.escalated_at
    from open_alerts
    join stores on stores.store_id = open_alerts.store_id
    left join products on products.sku = open_alerts.sku
)

select * from final
order by
    severity_rank desc,
    stockout_probability desc nulls last,
    coalesce(expected_stockout_date, predicted_stockout_date) nulls last,
    store_id,
    sku;

comment on view :"schema".v_open_alerts is 'One row per open alert, most urgent first.';

grant select on :"schema".v_open_alerts to gold_analyst, gold_store_manager;
