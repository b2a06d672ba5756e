-- model_version: which version of the stock model (spark_jobs/gold/stock_model.py MODEL_VERSION)
-- produced a forecast row and a stock position, so a figure on the dashboard or in an export
-- can be traced to the MLflow runs that fitted and scored that version (README, Tracked models).
-- Rows loaded before this migration made no record of it: they stay null.

alter table :"schema".stock_position add column model_version text;
alter table :"schema".stock_forecast add column model_version text;

comment on column :"schema".stock_position.model_version is 'Version of the stock model that computed this position (MLflow tag model_version).';
comment on column :"schema".stock_forecast.model_version is 'Version of the stock model that made this forecast (MLflow tag model_version).';
