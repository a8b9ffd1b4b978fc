-- A second hourly rollup at the grain the boards need (docs/decisions/0079-board-rollups.md): no
-- customer, workflow or end user, so an hour is hundreds of rows where spend_hourly has tens of
-- thousands; with the per-call facts the panels used to scan the raw calls for: input/output cost,
-- enforcement counts, distinct users (uniqCombined states) and latency (quantileBFloat16 states),
-- both of which merge into exactly what the same function gives over the raw calls. Built like
-- spend_hourly (decision 0044): sealed hours by the maintainer from llm_calls FINAL, the live tail
-- from the raw calls; it has its own frontier, so on an existing store every hour reads the raw
-- calls until the maintainer has filled it. Each statement is idempotent.

-- The raw calls aggregated per hour and group: the one definition of a row (tail and builds).
CREATE OR REPLACE VIEW ${DB}.calls_hourly_raw AS
SELECT
    toDateTime(toStartOfHour(start_time), 'UTC') AS hour,
    team,
    department,
    cost_center,
    feature,
    service,
    environment,
    provider,
    if(priced_model != '', priced_model, if(response_model != '', response_model, request_model)) AS model,
    count() AS calls,
    countIf(error_type != '') AS error_calls,
    countIf(priced = 0) AS unpriced_calls,
    countIf(enforcement = 'blocked') AS blocked_calls,
    countIf(enforcement = 'downgraded') AS downgraded_calls,
    countIf(enforcement = 'clamped') AS clamped_calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(cost_usd) AS cost_usd,
    sum(input_cost_usd) AS input_cost_usd,
    sum(output_cost_usd) AS output_cost_usd,
    uniqCombinedStateIf(cityHash64(end_user), end_user != '') AS users,
    quantileBFloat16State(0.95)(duration_ms) AS latency
FROM ${DB}.llm_calls FINAL
GROUP BY hour, team, department, cost_center, feature, service, environment, provider, model;

-- Sealed hours: each build of an hour is one INSERT under a new generation (zero rows with calls = 0
-- for groups that vanished), FINAL shows per group the newest build.
CREATE TABLE IF NOT EXISTS ${DB}.calls_hourly_sealed
(
    hour DateTime('UTC'),
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
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, team, feature, model, provider, environment, service, cost_center, department);

-- The frontier of each rollup after spend_hourly (which keeps rollup_frontier): one row per move,
-- max wins, readers take a move 5 s after it was written.
CREATE TABLE IF NOT EXISTS ${DB}.rollup_frontiers
(
    rollup LowCardinality(String),
    sealed_until DateTime('UTC'),
    advanced_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (rollup, advanced_at);

-- What the panels read: sealed hours before this rollup's frontier, the raw calls from it on (the
-- same scalar subquery in both branches, evaluated once per query: see spend_hourly, 0013).
CREATE OR REPLACE VIEW ${DB}.calls_hourly AS
SELECT
    hour, team, department, cost_center, feature, service, environment, provider, model,
    calls, error_calls, unpriced_calls, blocked_calls, downgraded_calls, clamped_calls,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    cost_usd, input_cost_usd, output_cost_usd, users, latency
FROM ${DB}.calls_hourly_sealed FINAL
WHERE hour < (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
              WHERE rollup = 'calls_hourly' AND advanced_at <= now64(3) - INTERVAL 5 SECOND)
  AND calls > 0
UNION ALL
SELECT
    hour, team, department, cost_center, feature, service, environment, provider, model,
    calls, error_calls, unpriced_calls, blocked_calls, downgraded_calls, clamped_calls,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    cost_usd, input_cost_usd, output_cost_usd, users, latency
FROM ${DB}.calls_hourly_raw
WHERE hour >= (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
               WHERE rollup = 'calls_hourly' AND advanced_at <= now64(3) - INTERVAL 5 SECOND);
