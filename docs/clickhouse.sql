-- smtpscope session records in ClickHouse: a MergeTree table on every
-- shard, and a Distributed table over them for the analysts' queries
-- (docs/clickhouse-queries.sql).  Written for ClickHouse 18.16 (Debian 12's
-- clickhouse-server) and later.
--
-- The records come from --json-format flat (docs/json-schema.md): one
-- level of keys, arrays of objects as one array per member, which is the
-- form JSONEachRow reads into Nested columns; 18.16 reads neither nested
-- objects nor arrays of objects.  Ingestion, on each shard (one sensor, or
-- a group of sensors, per shard; docs/scale-out.md):
--
--   smtpscope -r capture.pcap --sensor mx-tap-1 -q --json - --json-format flat |
--     clickhouse-client --host SHARD --query \
--       'INSERT INTO smtpscope.sessions_local FORMAT JSONEachRow'
--
-- Run this file on every shard (clickhouse-client --multiquery <
-- docs/clickhouse.sql), and on any other node that is to answer queries.
-- The cluster name "smtpscope" must be defined in each server's
-- <remote_servers> (no ZooKeeper is needed: the local tables are
-- created one server at a time, not ON CLUSTER).

CREATE DATABASE IF NOT EXISTS smtpscope;

CREATE TABLE IF NOT EXISTS smtpscope.sessions_local
(
    type String,
    id UInt64,                      -- restarts every run: join on uid
    uid String,
    sensor String,
    input Nullable(String),
    client_ip String,
    client_port UInt16,
    server_ip String,
    server_port UInt16,
    community_id String,
    ts Nullable(String),            -- ISO 8601, microseconds; see time below
    start Nullable(Float64),
    `end` Nullable(Float64),
    connect_ms Nullable(Float64),
    banner_ms Nullable(Float64),
    greeting_code Nullable(UInt16),
    greeting_enhanced Nullable(String),
    greeting_text Nullable(String),
    greeting_lines UInt16,
    exchanges Nested(
        cmd Nullable(String),
        arg Nullable(String),
        code Nullable(UInt16),
        enhanced Nullable(String),
        text Nullable(String),
        lines UInt16,
        latency_ms Nullable(Float64),
        complete_ms Nullable(Float64),
        t_ms Nullable(Float64),
        unsolicited UInt8,
        size Nullable(UInt64),
        anomalies Array(String)
    ),
    exchanges_dropped UInt32,
    messages_attempted UInt32,
    messages_accepted UInt32,
    message_bytes UInt64,
    transactions Nested(
        helo Nullable(String),
        mail_from Nullable(String),
        mail_code Nullable(UInt16),
        rcpt_to Array(String),
        rcpt_code Array(Nullable(UInt16)),
        size Nullable(UInt64),
        code Nullable(UInt16),
        enhanced Nullable(String),
        text Nullable(String),
        ended_by String,
        `from` Nullable(String),
        `to` Nullable(String),
        subject Nullable(String),
        message_id Nullable(String),
        date Nullable(String)
    ),
    tls Nullable(String),
    auth_mechanism Nullable(String),
    auth_user Nullable(String),
    auth_code Nullable(UInt16),
    extensions Array(String),
    close String,
    flags Array(String),
    closer Nullable(String),
    end_reason String,
    bytes_client UInt64,
    bytes_server UInt64,
    gap_bytes_client UInt64,
    gap_bytes_server UInt64,
    missing_side Nullable(String),
    -- Not in the records: the session's start as ClickHouse times (18.16
    -- has no sub-second DateTime; start keeps the microseconds).
    -- MATERIALIZED, not DEFAULT: 18.16's JSONEachRow fills a column a
    -- row leaves out with zero, not with its DEFAULT expression.
    time DateTime MATERIALIZED toDateTime(toUInt32(ifNull(start, 0))),
    day Date MATERIALIZED toDate(time)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (sensor, server_ip, time, uid);

-- Queries go here; rand() spreads rows inserted through it (not the
-- documented path: each shard takes its own sensors' records).
CREATE TABLE IF NOT EXISTS smtpscope.sessions AS smtpscope.sessions_local
ENGINE = Distributed(smtpscope, smtpscope, sessions_local, rand());
