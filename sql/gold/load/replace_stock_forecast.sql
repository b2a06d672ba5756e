-- Replaces the forecast of every store-SKU this load evaluated with the staged one, made at the
-- load's data time (parameter as_of); other store-SKUs keep theirs.
-- Grain: one row per store, SKU and forecast day.

delete from :"schema".stock_forecast as forecast
using stg_stock_position as staged
where forecast.store_id = staged.store_id and forecast.sku = staged.sku;

insert into :"schema".stock_forecast (store_id, sku, forecast_date, forecast_units, as_of, model_version)
select store_id, sku, forecast_date, round(forecast_units, 3), %(as_of)s, model_version
from stg_stock_forecast;
