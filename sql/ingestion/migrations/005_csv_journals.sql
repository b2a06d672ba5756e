-- POS journals uploaded as CSV and turned into bronze events (ingestion/csv_landing.py).

-- One row per distinct file content: a second upload of the same bytes is found here and loads
-- nothing. 'pending' names the bronze object before it is written, so a run that dies between
-- the write and the commit writes the same object again instead of a second one.
create table if not exists :"schema".csv_files (
    sha256          text        primary key,
    source_key      text        not null,
    state           text        not null check (state in ('pending', 'loaded')),
    -- null when the file held no line that was not already loaded unchanged
    bronze_key      text,
    rows            integer     not null,
    new_lines       integer     not null,
    changed_lines   integer     not null,
    unchanged_lines integer     not null,
    first_seen_at   timestamptz not null default now(),
    loaded_at       timestamptz
);

comment on table :"schema".csv_files is
    'One row per distinct POS journal file content: where it came from and what it added to bronze.';

-- One row per journal line ever sent to bronze, named by its derived event_id, with a digest of
-- the event first sent: a corrected file's unchanged lines are not sent again, and a changed
-- line is sent so that silver quarantines it (duplicate_event_id) rather than hiding it.
create table if not exists :"schema".csv_lines (
    event_id        text        primary key,
    store_id        text        not null,
    payload_sha256  text        not null,
    file_sha256     text        not null references :"schema".csv_files (sha256),
    loaded_at       timestamptz not null default now()
);

comment on table :"schema".csv_lines is
    'One row per POS journal line sent to bronze: its event_id and the digest of the event sent.';
