-- Who is looking: the login and the gold roles it holds. Grain: one row.
-- The dashboard's queries (this folder) name the schema as :"schema" and take psycopg2
-- named parameters (pyformat); each runs as the viewer's own login, so row-level security applies.

select
    current_user::text as login,
    pg_has_role(current_user, 'gold_analyst', 'member') as is_analyst,
    pg_has_role(current_user, 'gold_store_manager', 'member') as is_store_manager,
    -- a superuser or a login that bypasses row-level security (the loader) must not view
    (select rolsuper or rolbypassrls from pg_roles where rolname = current_user) as bypasses_row_security;
