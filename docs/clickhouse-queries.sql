-- Analyst queries over the Distributed table of docs/clickhouse.sql.
-- Each query follows a "-- name:" line (tests/clickhouse/run.sh runs them
-- by name against a two-shard cluster and checks every figure against
-- smtpscope's own summary and records).  Percentiles are nearest-rank,
-- smtpscope's definition (docs/timing.md): the ceil(q * n)-th smallest
-- value, exact here where smtpscope's summary rounds down to its
-- histogram's bins (within 0.8 % above 0.256 ms).

-- name: sessions_by_label
-- Sessions per close label (the summary's "labels"), every sensor.
SELECT close, count() AS sessions
FROM smtpscope.sessions
GROUP BY close
ORDER BY close;

-- name: banner_overall
-- Banner latency over every session with a measured banner (the
-- summary's "banner"): how many, nearest-rank p50 and p99, min and max.
SELECT
    count(banner_ms) AS banners,
    arrayElement(arraySort(groupArray(banner_ms)), toUInt64(ceil(0.50 * count(banner_ms)))) AS p50_ms,
    arrayElement(arraySort(groupArray(banner_ms)), toUInt64(ceil(0.99 * count(banner_ms)))) AS p99_ms,
    min(banner_ms) AS min_ms,
    max(banner_ms) AS max_ms
FROM smtpscope.sessions
WHERE banner_ms IS NOT NULL;

-- name: banner_by_server_hour
-- Banner latency p50 and p99 per server and hour of session start.  A
-- slow greeting is the first sign of an overloaded server, a DNS or
-- RBL lookup timing out, or a tarpit (Postfix postscreen's greet wait).
SELECT
    server_ip,
    server_port,
    toStartOfHour(time) AS hour,
    count(banner_ms) AS banners,
    arrayElement(arraySort(groupArray(banner_ms)), toUInt64(ceil(0.50 * count(banner_ms)))) AS p50_ms,
    arrayElement(arraySort(groupArray(banner_ms)), toUInt64(ceil(0.99 * count(banner_ms)))) AS p99_ms
FROM smtpscope.sessions
WHERE banner_ms IS NOT NULL
GROUP BY server_ip, server_port, hour
ORDER BY hour, server_ip, server_port;

-- name: abnormal_closes_by_label_server
-- Abnormal closes (every label but normal_quit, tls_opaque and
-- one_sided_capture: docs/verdicts.md) per label and server, and how many
-- sensors saw them.
SELECT close, server_ip, server_port, count() AS sessions, uniqExact(sensor) AS sensors
FROM smtpscope.sessions
WHERE close NOT IN ('normal_quit', 'tls_opaque', 'one_sided_capture')
GROUP BY close, server_ip, server_port
ORDER BY sessions DESC, close, server_ip, server_port;

-- name: top_rejected_senders
-- Senders (MAIL FROM paths; "" is the null path <>) whose transactions
-- were refused: the MAIL itself got 4xx/5xx, every RCPT did, or the
-- message did (DATA, its end of data, or BDAT LAST).
SELECT
    transactions.mail_from AS sender,
    count() AS refused,
    uniqExact(client_ip) AS clients,
    uniqExact(server_ip) AS servers
FROM smtpscope.sessions
ARRAY JOIN transactions
WHERE transactions.mail_from IS NOT NULL
  AND (ifNull(transactions.mail_code, 0) >= 400
       OR ifNull(transactions.code, 0) >= 400
       OR (length(transactions.rcpt_code) > 0
           AND arrayAll(c -> ifNull(c, 0) >= 400, transactions.rcpt_code)))
GROUP BY sender
ORDER BY refused DESC, sender
LIMIT 20;
