-- Replaces the promotion days of the span this load staged (its first to its last staged day)
-- with the staged ones: a promotion silver no longer holds leaves the calendar with it.
-- Grain: one row per store, SKU and day on promotion.

with span as (
    select min(calendar_date) as first_day, max(calendar_date) as last_day
    from stg_promotion_calendar
)

delete from :"schema".promotion_calendar as calendar
using span
where calendar.calendar_date between span.first_day and span.last_day;

insert into :"schema".promotion_calendar (
    store_id, sku, calendar_date, promotion_id, discount_percent, announced_at
)
select store_id, sku, calendar_date, promotion_id, discount_percent, announced_at
from stg_promotion_calendar
where store_id in (select store_id from :"schema".dim_store);
