-- Budget state per policy, period and day (an hour for daily budgets), computed by the collector
-- from the stored calls — a cache the dashboards read, rewritten whenever it is recomputed
-- (ReplacingMergeTree on the bucket, latest computed_at wins; read with FINAL). `at` is the point
-- in time the row describes: the bucket's end, or the moment of computing in a bucket still open.
-- scope: 'budget' (a policy's budget), 'all' (all spend, UTC months) or 'unbudgeted' (spend no
-- budget covers, UTC months); policy is '' for the last two. Money is Decimal.
CREATE TABLE IF NOT EXISTS ${DB}.budget_burndown
(
    scope LowCardinality(String),
    policy String,
    period LowCardinality(String),
    timezone LowCardinality(String),
    period_start DateTime('UTC'),
    period_end DateTime('UTC'),
    bucket_start DateTime('UTC'),
    at DateTime64(3, 'UTC'),
    spent_usd Decimal(38, 18),
    limit_usd Nullable(Decimal(38, 18)),
    limit_source LowCardinality(String),
    forecast_usd Decimal(38, 18),
    forecast_low_usd Decimal(38, 18),
    forecast_high_usd Decimal(38, 18),
    breach_at Nullable(DateTime64(3, 'UTC')),
    state LowCardinality(String),
    closed UInt8,
    computed_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(period_start)
ORDER BY (scope, policy, period_start, bucket_start);
