-- The team view's two heaviest panels at the grain they group by (docs/decisions/0108-budget-and-team-grain-rollups.md),
-- per hour and per UTC day, ordered by team so one team's rows are a short range of the index:
--  * team_customers: spend per team and customer. Top customers read customers_daily, ordered by
--    customer and split by workflow, environment and feature: every row of the month for one team
--    (25.8 M at 100 M calls: 0.3-0.45 s);
--  * team_models: calls and the quantileBFloat16 latency states per team and model. p95 latency
--    merged a state per team, feature, environment, service and model (thousands a month for one
--    team); here one per model and day. The states merge into exactly what quantileBFloat16 gives
--    over the same raw calls.
-- The panels read these while the environment and feature variables are at All, the finer rollups
-- otherwise. Built like calls_hourly and calls_daily (decision 0079): sealed hours from llm_calls
-- FINAL by the maintainer under the same generation, days folded from the sealed hours with the
-- other daily rollups, each with its own frontier (read raw, or not at all, until filled).
-- Each statement is idempotent.

CREATE OR REPLACE VIEW ${DB}.team_customers_hourly_raw AS
SELECT
    toDateTime(toStartOfHour(start_time), 'UTC') AS hour,
    team,
    customer,
    count() AS calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cost_usd) AS cost_usd
FROM ${DB}.llm_calls FINAL
GROUP BY hour, team, customer;

CREATE TABLE IF NOT EXISTS ${DB}.team_customers_hourly_sealed
(
    hour DateTime('UTC'),
    team LowCardinality(String),
    customer String,
    calls UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cost_usd Decimal(38, 18),
    generation UInt64
)
ENGINE = ReplacingMergeTree(generation)
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, team, customer);

CREATE OR REPLACE VIEW ${DB}.team_customers_hourly AS
SELECT hour, team, customer, calls, input_tokens, output_tokens, cost_usd
FROM ${DB}.team_customers_hourly_sealed FINAL
WHERE hour < (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
              WHERE rollup = 'team_customers_hourly' AND advanced_at <= now64(3) - INTERVAL 5 SECOND)
  AND calls > 0
UNION ALL
SELECT hour, team, customer, calls, input_tokens, output_tokens, cost_usd
FROM ${DB}.team_customers_hourly_raw
WHERE hour >= (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
               WHERE rollup = 'team_customers_hourly' AND advanced_at <= now64(3) - INTERVAL 5 SECOND);

CREATE TABLE IF NOT EXISTS ${DB}.team_customers_daily_sealed
(
    day DateTime('UTC'),
    team LowCardinality(String),
    customer String,
    calls UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cost_usd Decimal(38, 18),
    generation UInt64
)
ENGINE = ReplacingMergeTree(generation)
PARTITION BY toYYYYMM(day)
ORDER BY (team, day, customer);

-- Sealed days before its own frontier; the days after it are read from team_customers_hourly.
CREATE OR REPLACE VIEW ${DB}.team_customers_daily AS
SELECT day, team, customer, calls, input_tokens, output_tokens, cost_usd
FROM ${DB}.team_customers_daily_sealed FINAL
WHERE day < (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
             WHERE rollup = 'team_customers_daily' AND advanced_at <= now64(3) - INTERVAL 5 SECOND)
  AND calls > 0;

CREATE OR REPLACE VIEW ${DB}.team_models_hourly_raw AS
SELECT
    toDateTime(toStartOfHour(start_time), 'UTC') AS hour,
    team,
    if(priced_model != '', priced_model, if(response_model != '', response_model, request_model)) AS model,
    count() AS calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cost_usd) AS cost_usd,
    quantileBFloat16State(0.95)(duration_ms) AS latency
FROM ${DB}.llm_calls FINAL
GROUP BY hour, team, model;

CREATE TABLE IF NOT EXISTS ${DB}.team_models_hourly_sealed
(
    hour DateTime('UTC'),
    team LowCardinality(String),
    model LowCardinality(String),
    calls UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cost_usd Decimal(38, 18),
    latency AggregateFunction(quantileBFloat16(0.95), Float64),
    generation UInt64
)
ENGINE = ReplacingMergeTree(generation)
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, team, model);

CREATE OR REPLACE VIEW ${DB}.team_models_hourly AS
SELECT hour, team, model, calls, input_tokens, output_tokens, cost_usd, latency
FROM ${DB}.team_models_hourly_sealed FINAL
WHERE hour < (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
              WHERE rollup = 'team_models_hourly' AND advanced_at <= now64(3) - INTERVAL 5 SECOND)
  AND calls > 0
UNION ALL
SELECT hour, team, model, calls, input_tokens, output_tokens, cost_usd, latency
FROM ${DB}.team_models_hourly_raw
WHERE hour >= (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
               WHERE rollup = 'team_models_hourly' AND advanced_at <= now64(3) - INTERVAL 5 SECOND);

CREATE TABLE IF NOT EXISTS ${DB}.team_models_daily_sealed
(
    day DateTime('UTC'),
    team LowCardinality(String),
    model LowCardinality(String),
    calls UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cost_usd Decimal(38, 18),
    latency AggregateFunction(quantileBFloat16(0.95), Float64),
    generation UInt64
)
ENGINE = ReplacingMergeTree(generation)
PARTITION BY toYYYYMM(day)
ORDER BY (team, day, model);

-- Sealed days before its own frontier; the days after it are read from team_models_hourly.
CREATE OR REPLACE VIEW ${DB}.team_models_daily AS
SELECT day, team, model, calls, input_tokens, output_tokens, cost_usd, latency
FROM ${DB}.team_models_daily_sealed FINAL
WHERE day < (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
             WHERE rollup = 'team_models_daily' AND advanced_at <= now64(3) - INTERVAL 5 SECOND)
  AND calls > 0;
