-- The alerts marked for publication (new or escalated, not yet on SNS), oldest first; the
-- columns are those of the published message. (alert_id, version) is the message's
-- deduplication key; published_version tells an opened alert (null) from an escalated one.
-- Grain: one row per alert episode waiting to be published.

select
    -- ids
    alert_id,
    version,
    store_id,
    sku,
    kind,
    -- urgency
    severity,
    -- figures
    stockout_probability,
    expected_stockout_date,
    on_hand,
    on_order,
    recommended_order_qty,
    reorder_point,
    predicted_stockout_date,
    -- lifecycle
    first_seen_at,
    last_seen_at,
    escalated_at,
    resolved_at,
    -- publication
    published_version
from :"schema".stock_alerts
where needs_publish
order by alert_id
