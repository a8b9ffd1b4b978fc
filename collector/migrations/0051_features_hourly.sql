-- Calls, tokens and spend per feature, team and environment per hour, ordered by feature first
-- (docs/decisions/0123-baselines-read-features-hourly.md): the before/after baselines panel compares
-- a few features over the weeks around each change, and calls_hourly (ordered by hour, thousands of
-- rows an hour) made it scan every row of the range ±8 days for them (100-270 ms at 100 M calls).
-- Here one feature's hours are a short range of the index. Built like the other followers (decision
-- 0108): sealed hours folded from calls_hourly's sealed rows by the maintainer under the same
-- generation, with its own frontier; the view reads the raw calls from that frontier on, so it is
-- exact before it is filled. Each statement is idempotent.

CREATE OR REPLACE VIEW ${DB}.features_hourly_raw AS
SELECT
    toDateTime(toStartOfHour(start_time), 'UTC') AS hour,
    feature,
    team,
    environment,
    count() AS calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cost_usd) AS cost_usd
FROM ${DB}.llm_calls FINAL
GROUP BY hour, feature, team, environment;

CREATE TABLE IF NOT EXISTS ${DB}.features_hourly_sealed
(
    hour DateTime('UTC'),
    feature LowCardinality(String),
    team LowCardinality(String),
    environment LowCardinality(String),
    calls UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cost_usd Decimal(38, 18),
    generation UInt64
)
ENGINE = ReplacingMergeTree(generation)
PARTITION BY toYYYYMM(hour)
ORDER BY (feature, hour, team, environment);

CREATE OR REPLACE VIEW ${DB}.features_hourly AS
SELECT hour, feature, team, environment, calls, input_tokens, output_tokens, cost_usd
FROM ${DB}.features_hourly_sealed FINAL
WHERE hour < (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
              WHERE rollup = 'features_hourly' AND advanced_at <= now64(3) - INTERVAL 5 SECOND)
  AND calls > 0
UNION ALL
SELECT hour, feature, team, environment, calls, input_tokens, output_tokens, cost_usd
FROM ${DB}.features_hourly_raw
WHERE hour >= (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
               WHERE rollup = 'features_hourly' AND advanced_at <= now64(3) - INTERVAL 5 SECOND);
