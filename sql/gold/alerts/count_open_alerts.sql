-- How many alerts are open once the lifecycle has run.
-- Grain: one row.

select count(*) from :"schema".stock_alerts where resolved_at is null
