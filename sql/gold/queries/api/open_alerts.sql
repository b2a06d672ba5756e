-- Open stock alerts (v_open_alerts), most severe first and then by alert id, one page.
-- Grain: one row per open alert. The probability figures are read by name from the view's row,
-- so they are null on a gold migrated before they existed.
-- Parameters: store_id, severity, kind (text or null), after_severity_rank (smallint) and
-- after_alert_id (bigint): the keyset cursor, the last alert of the previous page (null for the
-- first); page_size (integer).

with alerts as (
    select open_alerts.*
    from :"schema".v_open_alerts as open_alerts
    where (%(store_id)s::text is null or open_alerts.store_id = %(store_id)s)
        and (%(severity)s::text is null or open_alerts.severity = %(severity)s)
        and (%(kind)s::text is null or open_alerts.kind = %(kind)s)
        and (
            %(after_alert_id)s::bigint is null
            or open_alerts.severity_rank < %(after_severity_rank)s::smallint
            or (
                open_alerts.severity_rank = %(after_severity_rank)s::smallint
                and open_alerts.alert_id > %(after_alert_id)s::bigint
            )
        )
    order by open_alerts.severity_rank desc, open_alerts.alert_id
    limit %(page_size)s
),

page as (
    select alerts.*, to_jsonb(alerts) as figures
    from alerts
),

final as (
    select
        -- ids
        alert_id,
        store_id,
        store_name,
        sku,
        product_name,
        category,
        -- urgency
        severity,
        severity_rank,
        kind,
        -- figures
        (figures ->> 'stockout_probability')::numeric as stockout_probability,
        (figures ->> 'expected_stockout_date')::date as expected_stockout_date,
        on_hand,
        (figures ->> 'on_order')::integer as on_order,
        reorder_point,
        predicted_stockout_date,
        recommended_order_qty,
        -- timestamps
        first_seen_at,
        last_seen_at,
        escalated_at
    from page
)

select * from final
order by severity_rank desc, alert_id;
