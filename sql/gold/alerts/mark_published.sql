-- Unmarks one alert once SNS has it, remembering the version and severity published, in its
-- own transaction (the outbox's second half). Only the version that was read and sent: when a
-- load has escalated the alert since (a higher version), the mark stays and the next run
-- publishes the new version. Updates one row, or none when the version moved on.
-- Grain: one row per alert episode.

update :"schema".stock_alerts
set needs_publish = false,
    published_at = now(),
    published_version = %(version)s,
    published_severity = %(severity)s
where alert_id = %(alert_id)s
    and version = %(version)s
