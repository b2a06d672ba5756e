-- Alerts of the chosen stores: every open one, and the resolved ones of the last 14 days of data
-- time, most urgent first. Grain: one row per alert episode. Parameters: stores (text[]).

with alerts as (
    select * from :"schema".v_alert_episodes
    where store_id = any(%(stores)s)
),

newest as (
    select max(last_seen_at) as seen_at from alerts
)

select alerts.*
from alerts
cross join newest
where alerts.is_open or alerts.resolved_at >= newest.seen_at - interval '14 days'
order by alerts.is_open desc, alerts.severity_rank desc, alerts.predicted_stockout_date nulls last,
    alerts.store_id, alerts.sku;
