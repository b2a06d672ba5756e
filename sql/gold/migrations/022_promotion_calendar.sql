-- promotion_calendar: every announced promotion day of every store-SKU, exploded from the
-- promotions silver holds (a chain-wide promotion is a row for each store). Where two promotions
-- overlap, the deeper discount is the one the forecast uses and the one listed. Loads replace the
-- days they cover.

create table :"schema".promotion_calendar (
    -- ids
    store_id          text not null references :"schema".dim_store (store_id),
    sku               text not null,
    calendar_date     date not null,                   -- store-local business day
    promotion_id      text not null,
    -- numerics
    discount_percent  integer not null check (discount_percent between 1 and 90),
    -- timestamps
    announced_at      timestamptz not null,
    loaded_at         timestamptz not null default now(),

    primary key (store_id, sku, calendar_date)
);

comment on table :"schema".promotion_calendar is 'One row per store, SKU and day on promotion: the promotion and its discount.';

create index promotion_calendar_day_idx on :"schema".promotion_calendar (calendar_date);
