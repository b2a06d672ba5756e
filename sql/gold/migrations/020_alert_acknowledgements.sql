-- alert_acknowledgements: a person saw an alert and acts on it, recorded with who and when.
--
-- The one write a viewer may make: gold_store_manager and gold_analyst may insert (nothing else:
-- no update, no delete), and row-level security checks every row: the login acknowledges as
-- itself (acknowledged_by = current_user), the alert is open and its store and severity are the
-- ones recorded, and a store manager only for the stores store_access lists for it.
-- `severity` is the alert's severity when it was acknowledged: gold's alert lifecycle does not
-- publish (escalate) an acknowledged alert again unless its severity rises above the highest
-- severity acknowledged for it.

create table :"schema".alert_acknowledgements (
    -- ids
    acknowledgement_id  bigint generated always as identity primary key,
    alert_id            bigint not null references :"schema".stock_alerts (alert_id),
    store_id            text not null,
    -- what was acknowledged
    severity            text not null check (severity in ('low', 'medium', 'high', 'critical')),
    severity_rank       smallint generated always as (
        case severity when 'critical' then 4 when 'high' then 3 when 'medium' then 2 else 1 end
    ) stored,
    note                text check (length(note) <= 500),
    -- who and when
    acknowledged_by     name not null default current_user,
    acknowledged_at     timestamptz not null default now()
);

comment on table :"schema".alert_acknowledgements is 'One row per acknowledgement of an alert by a login.';

create index alert_acknowledgements_alert_idx on :"schema".alert_acknowledgements (alert_id, severity_rank desc);

grant select, insert on :"schema".alert_acknowledgements to gold_analyst, gold_store_manager;

alter table :"schema".alert_acknowledgements enable row level security;

create policy analyst_reads_all on :"schema".alert_acknowledgements for select to gold_analyst using (true);
create policy manager_reads_own_stores on :"schema".alert_acknowledgements for select to gold_store_manager
    using (store_id in (select store_id from :"schema".store_access where role_name = current_user));

create policy analyst_acknowledges_open_alerts on :"schema".alert_acknowledgements for insert to gold_analyst
    with check (
        acknowledged_by = current_user
        and exists (
            select from :"schema".stock_alerts as alert
            where alert.alert_id = alert_acknowledgements.alert_id
                and alert.store_id = alert_acknowledgements.store_id
                and alert.severity = alert_acknowledgements.severity
                and alert.resolved_at is null
        )
    );
create policy manager_acknowledges_own_open_alerts on :"schema".alert_acknowledgements for insert
    to gold_store_manager
    with check (
        acknowledged_by = current_user
        and store_id in (select store_id from :"schema".store_access where role_name = current_user)
        and exists (
            select from :"schema".stock_alerts as alert
            where alert.alert_id = alert_acknowledgements.alert_id
                and alert.store_id = alert_acknowledgements.store_id
                and alert.severity = alert_acknowledgements.severity
                and alert.resolved_at is null
        )
    );
