-- store_daily_targets: the revenue target of a store for a business day, for "revenue today vs
-- target" (the dashboard's store performance page, v_store_daily_vs_target).
--
-- The rule that seeds it (the view v_store_target_rule): the average revenue of the same weekday
-- in the four weeks before, over the weeks the store sold anything. The statement
-- sql/gold/queries/seed_store_daily_targets.sql (run by `make demo`, or by hand in `make psql`
-- with `\i`) writes that figure for every store-day from the first with a week of history to a
-- week after the latest sales day, where no target is set yet; a target is edited by hand and
-- never overwritten by a later seed:
--     update gold.store_daily_targets set revenue_target = 12000, source = 'manual',
--            updated_by = current_user, updated_at = now()
--      where store_id = 'S001' and business_date = '2026-11-23';
-- A day without a row falls back to the rule (target_source 'rule' in v_store_daily_vs_target).

create table :"schema".store_daily_targets (
    -- ids
    store_id        text not null references :"schema".dim_store (store_id),
    business_date   date not null,
    -- target
    revenue_target  numeric(16, 2) not null check (revenue_target >= 0),
    source          text not null default 'manual' check (source in ('seeded', 'manual')),
    -- who and when
    updated_by      name not null default current_user,
    updated_at      timestamptz not null default now(),

    primary key (store_id, business_date)
);

comment on table :"schema".store_daily_targets is 'One row per store and business day: the revenue target set for it.';

grant select on :"schema".store_daily_targets to gold_analyst, gold_store_manager;

alter table :"schema".store_daily_targets enable row level security;
create policy analyst_reads_all on :"schema".store_daily_targets for select to gold_analyst using (true);
create policy manager_reads_own_stores on :"schema".store_daily_targets for select to gold_store_manager
    using (store_id in (select store_id from :"schema".store_access where role_name = current_user));
