-- Analysts may read silver's held bronze objects (ingestion.held_objects, ingestion migration
-- 004) as their own login: the dashboard's pipeline health page lists them. Store managers may
-- not: a held batch holds every store's events, as quarantine does. The ingestion migrations run
-- before gold's, so the table is there; granting again from another gold schema changes nothing.

grant usage on schema ingestion to gold_analyst;
grant select on ingestion.held_objects to gold_analyst;
