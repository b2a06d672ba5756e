-- The history of one alert: every episode of the same store, SKU and kind, and each
-- acknowledgement made of them. Grain: one row per episode, or per acknowledgement of one.
-- Parameters: alert_id (bigint).

with alert as (
    select store_id, sku, kind from :"schema".stock_alerts where alert_id = %(alert_id)s
),

episodes as (
    select episodes.*
    from :"schema".v_alert_episodes as episodes
    join alert using (store_id, sku, kind)
),

events as (
    select
        alert_id,
        first_seen_at as happened_at,
        'opened as ' || kind || ' (' || severity || ' now)' as event,
        null::text as who
    from episodes
    union all
    select alert_id, escalated_at, 'escalated', null from episodes where escalated_at is not null
    union all
    select alert_id, resolved_at, 'resolved', null from episodes where resolved_at is not null
    union all
    select
        acknowledgements.alert_id,
        acknowledgements.acknowledged_at,
        'acknowledged at ' || acknowledgements.severity
            || coalesce(': ' || acknowledgements.note, ''),
        acknowledgements.acknowledged_by::text
    from :"schema".alert_acknowledgements as acknowledgements
    join episodes on episodes.alert_id = acknowledgements.alert_id
)

select alert_id, happened_at, event, who
from events
order by happened_at, alert_id;
