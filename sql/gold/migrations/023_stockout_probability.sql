-- The stockout probability (spark_jobs/gold/stock_model.py): stock_position gains what is on
-- order, the inventory position, the next and last receipt, the promotion and dispersion
-- figures of the demand model, and the probability of a stockout within the lead time and by
-- tomorrow; stock_alerts gains the kind stockout_risk and the figures an alert carries.

alter table :"schema".stock_position add column on_order integer not null default 0;
alter table :"schema".stock_position add column inventory_position integer;
alter table :"schema".stock_position add column next_receipt_at timestamptz;
alter table :"schema".stock_position add column last_receipt_at timestamptz;
alter table :"schema".stock_position add column promotion_elasticity numeric;
alter table :"schema".stock_position add column demand_dispersion numeric;
alter table :"schema".stock_position add column stockout_probability numeric;
alter table :"schema".stock_position add column stockout_probability_1d numeric;
alter table :"schema".stock_position add column expected_stockout_date date;

comment on column :"schema".stock_position.on_order is 'Units on open purchase order lines (open_orders).';
comment on column :"schema".stock_position.inventory_position is 'on_hand + on_order: what the recommended order tops up to the order-up-to level.';
comment on column :"schema".stock_position.stockout_probability is 'P(demand until an order placed at the next review can arrive >= on hand + receipts due by then).';
comment on column :"schema".stock_position.stockout_probability_1d is 'The same probability by the end of tomorrow.';
comment on column :"schema".stock_position.expected_stockout_date is 'First day the mean forecast reaches on hand + receipts due by then.';

alter table :"schema".stock_alerts add column on_order integer;
alter table :"schema".stock_alerts add column stockout_probability numeric;
alter table :"schema".stock_alerts add column expected_stockout_date date;

alter table :"schema".stock_alerts drop constraint stock_alerts_kind_check;
alter table :"schema".stock_alerts add constraint stock_alerts_kind_check
    check (kind in ('stockout', 'below_reorder_point', 'predicted_stockout', 'overstock', 'stockout_risk'));
