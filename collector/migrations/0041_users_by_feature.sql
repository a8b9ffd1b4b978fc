-- Distinct end users per feature, per hour and per UTC day (docs/decisions/0081-panel-grain-rollups.md):
-- the cost-per-user panel merged the uniqCombined states of every calls_daily row (thousands a
-- day, 20 MB of states a month at 10 M calls); per feature it is ~200 states a day. Built like
-- calls_hourly and calls_daily (decision 0079): sealed hours from llm_calls FINAL by the
-- maintainer under the same generation, days folded from the sealed hours with calls_daily's days
-- (rebuilt with them), each with its own frontier, so on an existing store the panel reads the raw
-- calls until the maintainer has filled both. The states merge into exactly what uniqCombined
-- gives over the same raw calls. Each statement is idempotent.

CREATE OR REPLACE VIEW ${DB}.users_hourly_raw AS
SELECT
    toDateTime(toStartOfHour(start_time), 'UTC') AS hour,
    feature,
    count() AS calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cost_usd) AS cost_usd,
    uniqCombinedStateIf(cityHash64(end_user), end_user != '') AS users
FROM ${DB}.llm_calls FINAL
GROUP BY hour, feature;

CREATE TABLE IF NOT EXISTS ${DB}.users_hourly_sealed
(
    hour DateTime('UTC'),
    feature LowCardinality(String),
    calls UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cost_usd Decimal(38, 18),
    users AggregateFunction(uniqCombined, UInt64),
    generation UInt64
)
ENGINE = ReplacingMergeTree(generation)
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, feature);

CREATE OR REPLACE VIEW ${DB}.users_hourly AS
SELECT hour, feature, calls, input_tokens, output_tokens, cost_usd, users
FROM ${DB}.users_hourly_sealed FINAL
WHERE hour < (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
              WHERE rollup = 'users_hourly' AND advanced_at <= now64(3) - INTERVAL 5 SECOND)
  AND calls > 0
UNION ALL
SELECT hour, feature, calls, input_tokens, output_tokens, cost_usd, users
FROM ${DB}.users_hourly_raw
WHERE hour >= (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
               WHERE rollup = 'users_hourly' AND advanced_at <= now64(3) - INTERVAL 5 SECOND);

CREATE TABLE IF NOT EXISTS ${DB}.users_daily_sealed
(
    day DateTime('UTC'),
    feature LowCardinality(String),
    calls UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cost_usd Decimal(38, 18),
    users AggregateFunction(uniqCombined, UInt64),
    generation UInt64
)
ENGINE = ReplacingMergeTree(generation)
PARTITION BY toYYYYMM(day)
ORDER BY (day, feature);

-- Sealed days before its own frontier; the days after it are read from users_hourly.
CREATE OR REPLACE VIEW ${DB}.users_daily AS
SELECT day, feature, calls, input_tokens, output_tokens, cost_usd, users
FROM ${DB}.users_daily_sealed FINAL
WHERE day < (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
             WHERE rollup = 'users_daily' AND advanced_at <= now64(3) - INTERVAL 5 SECOND)
  AND calls > 0;
