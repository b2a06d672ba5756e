-- A store's stock positions now (v_current_stock), filtered, by SKU, one page.
-- Grain: one row per SKU of the store. The probability and order figures are read by name from
-- the view's row (to_jsonb, on the page's rows only), so they are null on a gold migrated before
-- they existed.
-- Parameters: store_id (text), risk, category (text or null), min_probability (numeric or null:
-- stockout probability at or above), after_sku (the keyset cursor, null for the first page),
-- page_size (integer).

with stock as (
    select current_stock.*
    from :"schema".v_current_stock as current_stock
    where current_stock.store_id = %(store_id)s
        and (%(risk)s::text is null or current_stock.risk = %(risk)s)
        and (%(category)s::text is null or current_stock.category = %(category)s)
        and (%(after_sku)s::text is null or current_stock.sku > %(after_sku)s)
        and (
            %(min_probability)s::numeric is null
            or (to_jsonb(current_stock) ->> 'stockout_probability')::numeric >= %(min_probability)s
        )
    order by current_stock.sku
    limit %(page_size)s
),

page as (
    select stock.*, to_jsonb(stock) as figures
    from stock
),

final as (
    select
        -- ids
        store_id,
        sku,
        product_name,
        category,
        -- stock now
        risk,
        on_hand,
        (figures ->> 'on_order')::integer as on_order,
        safety_stock,
        reorder_point,
        order_up_to_level,
        days_of_cover,
        -- risk
        (figures ->> 'stockout_probability')::numeric as stockout_probability,
        (figures ->> 'stockout_probability_1d')::numeric as stockout_probability_1d,
        (figures ->> 'expected_stockout_date')::date as expected_stockout_date,
        (figures ->> 'stockout_probability_raw')::numeric as stockout_probability_raw,
        (figures ->> 'calibration_fitted_on')::date as calibration_fitted_on,
        (figures ->> 'calibration_rows')::integer as calibration_rows,
        predicted_stockout_date,
        -- replenishment and demand
        recommended_order_qty,
        daily_demand,
        stock_value_at_cost,
        -- timestamps
        as_of
    from page
)

select * from final
order by sku;
