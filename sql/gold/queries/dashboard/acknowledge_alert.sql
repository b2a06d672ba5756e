-- Acknowledges an open alert as the viewer (the one write the dashboard makes; row-level
-- security on alert_acknowledgements checks the login, the store and that the alert is open at
-- this severity). Grain: one row, the acknowledgement.
-- Parameters: alert_id (bigint), store_id (text), severity (text), note (text or null).

insert into :"schema".alert_acknowledgements (alert_id, store_id, severity, note)
values (%(alert_id)s, %(store_id)s, %(severity)s, %(note)s)
returning acknowledgement_id, alert_id, severity, acknowledged_by::text, acknowledged_at;
