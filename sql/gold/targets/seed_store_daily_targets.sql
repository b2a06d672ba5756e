-- Seeds store_daily_targets from the documented rule (v_store_target_rule: the average revenue of
-- the same weekday in the four weeks before) for every store-day the rule covers and no target
-- holds yet. A target already there, seeded or set by hand, stays as it is. Returns the number
-- of targets written. `make demo` runs it; by hand: make psql, then \i sql/gold/targets/seed_store_daily_targets.sql

with inserted as (
    insert into :"schema".store_daily_targets (store_id, business_date, revenue_target, source)
    select store_id, business_date, revenue_target, 'seeded'
    from :"schema".v_store_target_rule
    on conflict (store_id, business_date) do nothing
    returning 1
)

select count(*) as targets_seeded from inserted;
