-- The boards' rollup per UTC day (docs/decisions/0079-board-rollups.md): calls_hourly's rows folded
-- into days, so a month is thousands of rows where calls_hourly has hundreds of thousands at
-- production volume. A day is built from calls_hourly_sealed (itself rebuilt from the raw calls)
-- once its 24 hours are sealed there, and rebuilt whenever one of its hours is rebuilt after the
-- day was (rollup_day_seals against rollup_seals). Panels read whole days from here and the hours
-- at the ends of their range from calls_hourly. Each statement is idempotent.

CREATE TABLE IF NOT EXISTS ${DB}.calls_daily_sealed
(
    day DateTime('UTC'),
    team LowCardinality(String),
    department LowCardinality(String),
    cost_center LowCardinality(String),
    feature LowCardinality(String),
    service LowCardinality(String),
    environment LowCardinality(String),
    provider LowCardinality(String),
    model LowCardinality(String),
    calls UInt64,
    error_calls UInt64,
    unpriced_calls UInt64,
    blocked_calls UInt64,
    downgraded_calls UInt64,
    clamped_calls UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens UInt64,
    cost_usd Decimal(38, 18),
    input_cost_usd Decimal(38, 18),
    output_cost_usd Decimal(38, 18),
    users AggregateFunction(uniqCombined, UInt64),
    latency AggregateFunction(quantileBFloat16(0.95), Float64),
    generation UInt64
)
ENGINE = ReplacingMergeTree(generation)
PARTITION BY toYYYYMM(day)
ORDER BY (day, team, feature, model, provider, environment, service, cost_center, department);

-- Each build of a day: its generation and when it read the hours (server clock, before the read):
-- an hour sealed after that (rollup_seals.sealed_at) makes the day be built again.
CREATE TABLE IF NOT EXISTS ${DB}.rollup_day_seals
(
    day DateTime('UTC'),
    generation UInt64,
    read_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(generation)
ORDER BY day;

-- Sealed days before this rollup's frontier (rows in rollup_frontiers, rollup 'calls_daily'),
-- taken 5 s after a move. No live tail: the days after it are read from calls_hourly.
CREATE OR REPLACE VIEW ${DB}.calls_daily AS
SELECT
    day, team, department, cost_center, feature, service, environment, provider, model,
    calls, error_calls, unpriced_calls, blocked_calls, downgraded_calls, clamped_calls,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    cost_usd, input_cost_usd, output_cost_usd, users, latency
FROM ${DB}.calls_daily_sealed FINAL
WHERE day < (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
             WHERE rollup = 'calls_daily' AND advanced_at <= now64(3) - INTERVAL 5 SECOND)
  AND calls > 0;
