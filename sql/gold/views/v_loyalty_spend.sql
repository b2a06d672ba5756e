-- v_loyalty_spend: what loyalty members and anonymous shoppers spend per visit (basket), per
-- store over the last 28 days.

create view :"schema".v_loyalty_spend with (security_invoker = true) as

with window_days as (
    select date_key
    from :"schema".v_last_28_days
    where facts = 'sales'
),

daily as (
    select *
    from :"schema".agg_sales_store_daily
    where date_key in (select date_key from window_days)
),

per_store as (
    select
        store_id,
        sum(loyalty_baskets) as member_visits,
        sum(loyalty_revenue) as member_revenue,
        sum(baskets - loyalty_baskets) as anonymous_visits,
        sum(revenue - loyalty_revenue) as anonymous_revenue,
        sum(revenue) as revenue
    from daily
    group by store_id
),

final as (
    select
        -- ids
        per_store.store_id,
        stores.store_name,
        -- members
        per_store.member_visits,
        round(per_store.member_revenue / nullif(per_store.member_visits, 0), 2) as member_spend_per_visit,
        -- anonymous shoppers
        per_store.anonymous_visits,
        round(per_store.anonymous_revenue / nullif(per_store.anonymous_visits, 0), 2)
            as anonymous_spend_per_visit,
        -- members against anonymous shoppers
        round(
            (per_store.member_revenue / nullif(per_store.member_visits, 0))
            / nullif(per_store.anonymous_revenue / nullif(per_store.anonymous_visits, 0), 0),
            2
        ) as member_uplift,
        round(100 * per_store.member_revenue / nullif(per_store.revenue, 0), 1) as member_revenue_pct
    from per_store
    join :"schema".dim_store as stores on stores.store_id = per_store.store_id
)

select * from final
order by store_id;

comment on view :"schema".v_loyalty_spend is 'One row per store: member and anonymous spend per visit over the last 28 days.';

grant select on :"schema".v_loyalty_spend to gold_analyst, gold_store_manager;
