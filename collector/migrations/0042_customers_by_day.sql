-- Spend per customer and workflow, per hour and per UTC day (docs/decisions/0081-panel-grain-rollups.md):
-- the top-customers panel and budgets matching a customer or a workflow read spend_hourly, which
-- keeps every attribution field and so compresses ~1.2 : 1 at 10,000 customers. Keyed by team,
-- environment, feature, customer and workflow only (the team view's variables and the fields those
-- budgets match), ordered by customer first so one customer's spend is a short range of the index.
-- Built like calls_hourly and calls_daily (decision 0079): sealed hours from llm_calls FINAL by the
-- maintainer under the same generation, days folded from the sealed hours with the other daily
-- rollups, each with its own frontier (read raw until filled). Each statement is idempotent.

CREATE OR REPLACE VIEW ${DB}.customers_hourly_raw AS
SELECT
    toDateTime(toStartOfHour(start_time), 'UTC') AS hour,
    customer,
    workflow,
    team,
    environment,
    feature,
    count() AS calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cost_usd) AS cost_usd
FROM ${DB}.llm_calls FINAL
GROUP BY hour, customer, workflow, team, environment, feature;

CREATE TABLE IF NOT EXISTS ${DB}.customers_hourly_sealed
(
    hour DateTime('UTC'),
    customer String,
    workflow LowCardinality(String),
    team LowCardinality(String),
    environment LowCardinality(String),
    feature LowCardinality(String),
    calls UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cost_usd Decimal(38, 18),
    generation UInt64
)
ENGINE = ReplacingMergeTree(generation)
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, customer, workflow, team, environment, feature);

CREATE OR REPLACE VIEW ${DB}.customers_hourly AS
SELECT hour, customer, workflow, team, environment, feature, calls, input_tokens, output_tokens, cost_usd
FROM ${DB}.customers_hourly_sealed FINAL
WHERE hour < (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
              WHERE rollup = 'customers_hourly' AND advanced_at <= now64(3) - INTERVAL 5 SECOND)
  AND calls > 0
UNION ALL
SELECT hour, customer, workflow, team, environment, feature, calls, input_tokens, output_tokens, cost_usd
FROM ${DB}.customers_hourly_raw
WHERE hour >= (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
               WHERE rollup = 'customers_hourly' AND advanced_at <= now64(3) - INTERVAL 5 SECOND);

CREATE TABLE IF NOT EXISTS ${DB}.customers_daily_sealed
(
    day DateTime('UTC'),
    customer String,
    workflow LowCardinality(String),
    team LowCardinality(String),
    environment LowCardinality(String),
    feature LowCardinality(String),
    calls UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cost_usd Decimal(38, 18),
    generation UInt64
)
ENGINE = ReplacingMergeTree(generation)
PARTITION BY toYYYYMM(day)
ORDER BY (customer, day, workflow, team, environment, feature);

CREATE OR REPLACE VIEW ${DB}.customers_daily AS
SELECT day, customer, workflow, team, environment, feature, calls, input_tokens, output_tokens, cost_usd
FROM ${DB}.customers_daily_sealed FINAL
WHERE day < (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
             WHERE rollup = 'customers_daily' AND advanced_at <= now64(3) - INTERVAL 5 SECOND)
  AND calls > 0;
