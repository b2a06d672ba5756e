-- Gives the open alerts whose condition still holds the staged figures. A severity above the
-- highest the alert had (its severity now, the one last published and the highest a person
-- acknowledged in alert_acknowledgements) is an escalation: the same row, a new version, marked
-- for publication again. So an acknowledged alert is not escalated or published again unless
-- its severity rises above what was acknowledged. The alert rows are locked as they are
-- read, and what depends on them is computed from the row locked (READ COMMITTED rereads a row
-- changed meanwhile), so a publisher's clear committed meanwhile is seen; a clear that waits on
-- this load's lock finds the new version and leaves the mark.
-- Returns how many alerts escalated.
-- Grain: one row per alert episode (store, SKU and kind, from first seen until resolved).

with severity_ranks (severity, severity_rank) as (
    values ('low', 1), ('medium', 2), ('high', 3), ('critical', 4)
),

still_holding as (
    select
        alert.alert_id,
        c.*,
        coalesce(staged_rank.severity_rank, 0) > greatest(
            alert.severity_rank,
            (select r.severity_rank from severity_ranks as r where r.severity = alert.published_severity),
            (
                select max(acknowledged.severity_rank)
                from :"schema".alert_acknowledgements as acknowledged
                where acknowledged.alert_id = alert.alert_id
            )
        ) as escalates
    from :"schema".stock_alerts as alert
    join stg_alert_conditions as c
        on c.store_id = alert.store_id and c.sku = alert.sku and c.kind = alert.kind
    left join severity_ranks as staged_rank on staged_rank.severity = c.severity
    where alert.resolved_at is null
    for update of alert
),

updated as (
    update :"schema".stock_alerts as alert
    set severity = c.severity,
        on_hand = c.on_hand,
        reorder_point = c.reorder_point,
        predicted_stockout_date = c.predicted_stockout_date,
        recommended_order_qty = c.recommended_order_qty,
        on_order = c.on_order,
        stockout_probability = c.stockout_probability,
        expected_stockout_date = c.expected_stockout_date,
        last_seen_at = greatest(%(as_of)s, alert.last_seen_at),
        escalated_at = case when c.escalates then %(as_of)s else alert.escalated_at end,
        needs_publish = alert.needs_publish or c.escalates,
        version = alert.version + case when c.escalates then 1 else 0 end,
        updated_at = now()
    from still_holding as c
    where alert.alert_id = c.alert_id
    returning c.escalates
)

select count(*) filter (where escalates) from updated
