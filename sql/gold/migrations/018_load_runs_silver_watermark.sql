-- load_runs.silver_loaded_through: the newest silver loaded_at a load saw. The next load rereads
-- from the earliest event day among silver rows loaded after it, so an event that reaches
-- silver days late still lands in gold, however late it is.

alter table :"schema".load_runs add column silver_loaded_through timestamptz;

comment on column :"schema".load_runs.silver_loaded_through is 'Newest silver loaded_at seen by this load.';
