-- Resolves the open alerts of the store-SKUs this load evaluated (their stock_position row has
-- the load's as_of) whose condition is no longer among the staged ones. Store-SKUs the load did
-- not evaluate keep their alerts as they are. Returns how many alerts were resolved.
-- Grain: one row per alert episode (store, SKU and kind, from first seen until resolved).

with evaluated as (
    select store_id, sku
    from :"schema".stock_position
    where as_of = %(as_of)s
),

resolved as (
    update :"schema".stock_alerts as alert
    set resolved_at = greatest(%(as_of)s, alert.first_seen_at),
        last_seen_at = greatest(%(as_of)s, alert.last_seen_at),
        updated_at = now()
    from evaluated
    where alert.resolved_at is null
        and evaluated.store_id = alert.store_id
        and evaluated.sku = alert.sku
        and not exists (
            select 1 from stg_alert_conditions as c
            where c.store_id = alert.store_id and c.sku = alert.sku and c.kind = alert.kind
        )
    returning 1
)

select count(*) from resolved
