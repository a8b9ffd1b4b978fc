-- Business outcomes ordered by time (docs/decisions/0125-outcomes-ordered-by-time.md). `outcomes`
-- (0009) is ordered by the client's id, so every read of a time range (cost per outcome, the
-- before/after baselines) merged the whole table with FINAL: ~10 ms at 100k outcomes, 0.4-0.6 s at
-- 10 M (bench/outcomes.mjs), growing with every outcome kept. Here a range of hours is a range of
-- the index. One row per id still: the key holds
-- the id's hour and feature, and a report that moves an id to another hour or feature writes a
-- tombstone (deleted = 1) over the row it replaces, in the same insert (storage/outcomes.ts); FINAL
-- drops both. `outcomes` is still written after it: the record by id, where the writer finds an
-- id's key, and what earlier dashboards read. Each statement is idempotent: the copy below keeps
-- each row's version, so a repeated copy replaces nothing newer.

CREATE TABLE IF NOT EXISTS ${DB}.outcomes_by_time
(
    id String,
    time DateTime64(3, 'UTC'),
    feature LowCardinality(String),
    outcome LowCardinality(String),
    count UInt64,
    value_usd Decimal(38, 18),
    team LowCardinality(String),
    cost_center LowCardinality(String),
    customer String,
    environment LowCardinality(String),
    service LowCardinality(String),
    ingest_key LowCardinality(String) DEFAULT '',
    claimed_attribution String DEFAULT '',
    version UInt64 DEFAULT toUnixTimestamp64Micro(now64(6)),
    deleted UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(version, deleted)
ORDER BY (toStartOfHour(time), feature, id)
SETTINGS old_parts_lifetime = 480;

INSERT INTO ${DB}.outcomes_by_time
    (id, time, feature, outcome, count, value_usd, team, cost_center, customer, environment, service,
     ingest_key, claimed_attribution, version, deleted)
SELECT id, time, feature, outcome, count, value_usd, team, cost_center, customer, environment, service,
       ingest_key, claimed_attribution, toUnixTimestamp64Micro(inserted_at), 0
FROM ${DB}.outcomes FINAL;
