-- Unmarks one alert once SNS has it, remembering the severity published, in its own
-- transaction (the outbox's second half).
-- Grain: one row per alert episode.

update :"schema".stock_alerts
set needs_publish = false,
    published_at = now(),
    published_severity = %(severity)s
where alert_id = %(alert_id)s
