-- The stores the caller may see (row-level security on dim_store), by store id, one page.
-- Grain: one row per store. The read API's queries (this folder) name the schema as :"schema"
-- and take psycopg2 named parameters; each runs as the caller's own login.
-- Parameters: store_id (text, null for every store), after_store_id (the keyset cursor: the last
-- store of the previous page, null for the first), page_size (integer).

select
    store_id,
    store_name,
    region,
    city,
    state,
    timezone,
    opens_at,
    closes_at
from :"schema".dim_store
where (%(store_id)s::text is null or store_id = %(store_id)s)
    and (%(after_store_id)s::text is null or store_id > %(after_store_id)s)
order by store_id
limit %(page_size)s;
