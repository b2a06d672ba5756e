-- How far kinesis_to_bronze has durably written each shard (ingestion/checkpoints.py).
-- Written with `if not exists`: databases from before this migration already hold the table,
-- created at run time by the drain itself; this adopts it as it is.
create table if not exists :"schema".kinesis_checkpoints (
    stream                text        not null,
    shard_id              text        not null,
    -- last sequence number written to bronze; null: nothing yet (read from TRIM_HORIZON)
    sequence_number       text,
    -- the shard is closed (after a reshard) and fully written: its children may be read
    closed                boolean     not null default false,
    pending_key           text,
    pending_last_sequence text,
    updated_at            timestamptz not null default now(),
    primary key (stream, shard_id)
);

comment on table :"schema".kinesis_checkpoints is
    'One row per Kinesis shard: how far kinesis_to_bronze has durably written it to S3.';

-- The stream the sequence numbers belong to; null on rows written before these columns.
alter table :"schema".kinesis_checkpoints
    add column if not exists stream_arn        text,
    add column if not exists stream_created_at timestamptz;
