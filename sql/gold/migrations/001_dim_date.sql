-- dim_date: the calendar every fact joins to, one row per day.
-- Fiscal years start on 1 February (the retail convention): fiscal period 1 is February and
-- fiscal year 2026 runs from 2026-02-01 to 2027-01-31.

create table :"schema".dim_date (
    -- ids
    date_key       integer primary key,          -- yyyymmdd
    calendar_date  date not null unique,
    -- calendar
    day_of_week    smallint not null check (day_of_week between 1 and 7),  -- ISO: 1 = Monday
    day_name       text not null,
    iso_week       smallint not null,
    iso_year       smallint not null,
    month          smallint not null,
    month_name     text not null,
    quarter        smallint not null,
    year           smallint not null,
    -- fiscal
    fiscal_year    smallint not null,
    fiscal_period  smallint not null check (fiscal_period between 1 and 12),
    -- flags
    is_weekend     boolean not null
);

comment on table :"schema".dim_date is 'One row per calendar day.';

-- Adds the days between two dates that are missing; loads call it for the dates they bring.
create function :"schema".ensure_dim_date(first_day date, last_day date) returns integer
language sql as $$
    with days as (
        select day::date as calendar_date
        from generate_series(first_day, last_day, interval '1 day') as day
    ),

    final as (
        select
            to_char(calendar_date, 'YYYYMMDD')::integer as date_key,
            calendar_date,
            extract(isodow from calendar_date)::smallint as day_of_week,
            trim(to_char(calendar_date, 'Day')) as day_name,
            extract(week from calendar_date)::smallint as iso_week,
            extract(isoyear from calendar_date)::smallint as iso_year,
            extract(month from calendar_date)::smallint as month,
            trim(to_char(calendar_date, 'Month')) as month_name,
            extract(quarter from calendar_date)::smallint as quarter,
            extract(year from calendar_date)::smallint as year,
            extract(year from calendar_date - interval '1 month')::smallint as fiscal_year,
            (mod(extract(month from calendar_date)::integer + 10, 12) + 1)::smallint as fiscal_period,
            extract(isodow from calendar_date) in (6, 7) as is_weekend
        from days
    ),

    inserted as (
        insert into dim_date
        select * from final
        on conflict (date_key) do nothing
        returning 1
    )

    select count(*)::integer from inserted
$$;

-- The function body names dim_date unqualified; pin its search_path to this schema.
alter function :"schema".ensure_dim_date(date, date) set search_path = :"schema";

select :"schema".ensure_dim_date(date '2020-01-01', date '2035-12-31');
