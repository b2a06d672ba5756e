-- Whether gold's v_current_stock carries stockout_probability yet (migration 023 and its view),
-- so a probability filter can be refused with a reason instead of matching nothing.
-- Grain: one row.

select exists (
    select
    from pg_attribute
    where attrelid = to_regclass(':"schema".v_current_stock')
        and attname = 'stockout_probability'
        and not attisdropped
) as has_probability;
