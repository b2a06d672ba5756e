-- stock_alerts.version: a number that rises on every change of an alert that is published
-- (its opening is version 1, each escalation adds one; a resolution is not published, so it
-- keeps the version). The publisher clears the outbox mark only for the version it read
-- (`... where alert_id = %s and version = %s`), so an escalation committed by a load between
-- the publisher's read and its clear stays marked and goes out on the next run. Each message
-- carries alert_id and version: a reader that gets one twice (a publisher killed between the
-- SNS publish and its clear sends it again) keeps one copy per (alert_id, version).
-- published_version is the version last on SNS; null until the first publication.

alter table :"schema".stock_alerts add column version integer not null default 1;
alter table :"schema".stock_alerts add column published_version integer;

-- Alerts of an older gold: published once (published_at) and escalated since (needs_publish)
-- are a second version; the rest are their first.
update :"schema".stock_alerts
set version = case when needs_publish and published_at is not null then 2 else 1 end,
    published_version = case when published_at is not null then 1 end;

alter table :"schema".stock_alerts add constraint stock_alerts_version_check
    check (version >= 1 and (published_version is null or published_version between 1 and version));

comment on column :"schema".stock_alerts.version is 'Rises by one on every published change: 1 when opened, +1 per escalation.';
comment on column :"schema".stock_alerts.published_version is 'The version last published to SNS (null: never published).';
