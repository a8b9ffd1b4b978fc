-- Business outcomes (a ticket resolved, an order placed) reported with POST /v1/outcomes, so
-- dashboards can show AI cost per outcome. `id` is the client's idempotency key: a retried report
-- replaces itself (ReplacingMergeTree on id; read with FINAL). Money is Decimal.
CREATE TABLE IF NOT EXISTS ${DB}.outcomes
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
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(inserted_at)
ORDER BY id;
