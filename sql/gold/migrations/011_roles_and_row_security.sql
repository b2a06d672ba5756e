-- Roles and row-level security.
-- gold_analyst reads everything and writes nothing. gold_store_manager reads only the rows of
-- the stores that store_access lists for the login user (current_user). Both roles are NOLOGIN
-- and cluster-wide: grant them to login users whose passwords live outside this repository,
--     create role ana login password '...' in role gold_analyst;
--     create role mgr_s001 login password '...' in role gold_store_manager;
--     insert into gold.store_access values ('mgr_s001', 'S001');
-- The loader connects as the schema owner, which row-level security does not restrict.
-- Views are created with security_invoker, so these policies apply through them too.

do $$
begin
    if not exists (select from pg_roles where rolname = 'gold_analyst') then
        create role gold_analyst nologin;
    end if;
    if not exists (select from pg_roles where rolname = 'gold_store_manager') then
        create role gold_store_manager nologin;
    end if;
end
$$;

create table :"schema".store_access (
    role_name  name not null,       -- a login role that is a member of gold_store_manager
    store_id   text not null,
    granted_at timestamptz not null default now(),

    primary key (role_name, store_id)
);

comment on table :"schema".store_access is 'One row per login role and store that role may see.';

-- Read-only access: usage on the schema and select, never insert, update, delete or truncate.
grant usage on schema :"schema" to gold_analyst, gold_store_manager;
grant select on all tables in schema :"schema" to gold_analyst;
alter default privileges in schema :"schema" grant select on tables to gold_analyst;
grant select on
    :"schema".dim_date,
    :"schema".dim_product,
    :"schema".dim_store,
    :"schema".fact_sales,
    :"schema".agg_sales_store_daily,
    :"schema".fact_inventory_snapshot,
    :"schema".stock_position,
    :"schema".stock_forecast,
    :"schema".stock_alerts,
    :"schema".store_access
to gold_store_manager;

alter table :"schema".store_access enable row level security;
create policy analyst_reads_all on :"schema".store_access for select to gold_analyst using (true);
create policy manager_reads_own on :"schema".store_access for select to gold_store_manager
    using (role_name = current_user);

alter table :"schema".dim_store enable row level security;
create policy analyst_reads_all on :"schema".dim_store for select to gold_analyst using (true);
create policy manager_reads_own_stores on :"schema".dim_store for select to gold_store_manager
    using (store_id in (select store_id from :"schema".store_access where role_name = current_user));

alter table :"schema".fact_sales enable row level security;
create policy analyst_reads_all on :"schema".fact_sales for select to gold_analyst using (true);
create policy manager_reads_own_stores on :"schema".fact_sales for select to gold_store_manager
    using (store_id in (select store_id from :"schema".store_access where role_name = current_user));

alter table :"schema".agg_sales_store_daily enable row level security;
create policy analyst_reads_all on :"schema".agg_sales_store_daily for select to gold_analyst using (true);
create policy manager_reads_own_stores on :"schema".agg_sales_store_daily for select to gold_store_manager
    using (store_id in (select store_id from :"schema".store_access where role_name = current_user));

alter table :"schema".fact_inventory_snapshot enable row level security;
create policy analyst_reads_all on :"schema".fact_inventory_snapshot for select to gold_analyst using (true);
create policy manager_reads_own_stores on :"schema".fact_inventory_snapshot for select to gold_store_manager
    using (store_id in (select store_id from :"schema".store_access where role_name = current_user));

alter table :"schema".stock_position enable row level security;
create policy analyst_reads_all on :"schema".stock_position for select to gold_analyst using (true);
create policy manager_reads_own_stores on :"schema".stock_position for select to gold_store_manager
    using (store_id in (select store_id from :"schema".store_access where role_name = current_user));

alter table :"schema".stock_forecast enable row level security;
create policy analyst_reads_all on :"schema".stock_forecast for select to gold_analyst using (true);
create policy manager_reads_own_stores on :"schema".stock_forecast for select to gold_store_manager
    using (store_id in (select store_id from :"schema".store_access where role_name = current_user));

alter table :"schema".stock_alerts enable row level security;
create policy analyst_reads_all on :"schema".stock_alerts for select to gold_analyst using (true);
create policy manager_reads_own_stores on :"schema".stock_alerts for select to gold_store_manager
    using (store_id in (select store_id from :"schema".store_access where role_name = current_user));
