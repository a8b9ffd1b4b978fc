-- Before/after baselines: a change to a feature (a new prompt, a model switch, a release) at a
-- moment, marked by hand (tokenledger baseline add, POST /v1/baselines) or found by the collector
-- when a feature's spans carry a new service.version. ReplacingMergeTree on (feature, id): a
-- retried mark is stored once; read with FINAL.
CREATE TABLE IF NOT EXISTS ${DB}.baselines
(
    id String,
    feature LowCardinality(String),
    at DateTime64(3, 'UTC'),
    label String,
    source LowCardinality(String),
    created_by String,
    created_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(created_at)
ORDER BY (feature, id);

