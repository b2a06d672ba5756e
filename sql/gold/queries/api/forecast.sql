-- The daily demand forecast of one store-SKU (stock_forecast), from the latest load.
-- Grain: one row per forecast day. Parameters: store_id, sku (text).

select
    store_id,
    sku,
    forecast_date,
    forecast_units,
    as_of
from :"schema".stock_forecast
where store_id = %(store_id)s
    and sku = %(sku)s
order by forecast_date;
