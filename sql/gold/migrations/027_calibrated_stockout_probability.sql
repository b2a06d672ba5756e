-- The calibrated stockout probability (spark_jobs/gold/calibration.py): each day's raw
-- probability is kept beside the snapshot it was computed on, with the lead time it covered, so
-- a later load can see what happened after it (the book stock reaching 0 within that lead time)
-- and fit its calibration map on those rows. stock_position keeps the raw probability beside
-- the calibrated one it now shows and alerts on, and which map produced it.

alter table :"schema".fact_inventory_snapshot add column stockout_probability_raw numeric(6,4);
alter table :"schema".fact_inventory_snapshot add column stockout_lead_time_days integer;

comment on column :"schema".fact_inventory_snapshot.stockout_probability_raw is 'The stock model''s uncalibrated probability of a stockout within the lead time, as the last load of this day computed it; null on days no load computed one or with nothing on hand.';
comment on column :"schema".fact_inventory_snapshot.stockout_lead_time_days is 'The lead time (days) stockout_probability_raw covered: its outcome is known once that many days after this one are complete.';

alter table :"schema".stock_position add column stockout_probability_raw numeric;
alter table :"schema".stock_position add column calibration_fitted_on date;
alter table :"schema".stock_position add column calibration_rows integer;

comment on column :"schema".stock_position.stockout_probability is 'P(demand until an order placed at the next review can arrive >= on hand + receipts due by then), calibrated on gold''s own record (stockout_probability_raw through the map of calibration_fitted_on).';
comment on column :"schema".stock_position.stockout_probability_raw is 'The stock model''s probability before calibration.';
comment on column :"schema".stock_position.calibration_fitted_on is 'Day of the load that fitted the calibration map; null when the map was the identity (too little known history).';
comment on column :"schema".stock_position.calibration_rows is 'Past store-SKU days with a known outcome that the calibration map was fitted on.';
