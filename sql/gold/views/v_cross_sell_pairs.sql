-- v_cross_sell_pairs: which SKUs sell in the same basket, over the last 28 days of sales.
-- attach_rate = share of the baskets holding sku that also hold paired_sku.

create view :"schema".v_cross_sell_pairs with (security_invoker = true) as

with window_days as (
    select date_key
    from :"schema".v_last_28_days
    where facts = 'sales'
),

basket_lines as (
    select distinct basket_id, sku
    from :"schema".fact_sales
    -- a key range, not `in (window)`: the planner then reads the window through the index on
    -- (store_id, date_key) instead of the whole table (a semi-join it misjudges at half the rows)
    where date_key between (select min(date_key) from window_days)
        and (select max(date_key) from window_days)
),

baskets_per_sku as (
    select sku, count(*) as baskets
    from basket_lines
    group by sku
),

pairs as (
    select
        first_line.sku,
        second_line.sku as paired_sku,
        count(*) as baskets_together
    from basket_lines as first_line
    join basket_lines as second_line
        on second_line.basket_id = first_line.basket_id
        and second_line.sku <> first_line.sku
    group by first_line.sku, second_line.sku
),

final as (
    select
        -- ids
        pairs.sku,
        pairs.paired_sku,
        -- counts
        pairs.baskets_together,
        baskets_per_sku.baskets as baskets_with_sku,
        -- rate
        round(pairs.baskets_together::numeric / baskets_per_sku.baskets, 4) as attach_rate
    from pairs
    join baskets_per_sku on baskets_per_sku.sku = pairs.sku
)

select * from final;

comment on view :"schema".v_cross_sell_pairs is 'One row per ordered pair of SKUs bought together in the last 28 days.';

grant select on :"schema".v_cross_sell_pairs to gold_analyst, gold_store_manager;
