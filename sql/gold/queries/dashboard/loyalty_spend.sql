-- Loyalty members against anonymous shoppers (gold's v_loyalty_spend) for the chosen stores.
-- Grain: one row per store. Parameters: stores (text[]).

select * from :"schema".v_loyalty_spend
where store_id = any(%(stores)s)
order by store_id;
