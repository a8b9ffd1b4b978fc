-- Spend per workflow with every other policy match field but customer, per hour and per UTC day
-- (docs/decisions/0108-budget-and-team-grain-rollups.md): a budget matching a workflow read
-- customers_daily, which is ordered by customer, so every row of the period (25.8 M a month at
-- 100 M calls: ~0.5 s). Here a workflow's days are a short range of the index (ordered by workflow
-- first), and every match that names no customer has a daily rollup. Built like calls_hourly and
-- calls_daily (decision 0079): sealed hours from llm_calls FINAL by the maintainer under the same
-- generation, days folded from the sealed hours with the other daily rollups, each with its own
-- frontier, so on an existing store budgets read the previous rollups until both are filled.
-- Each statement is idempotent.

CREATE OR REPLACE VIEW ${DB}.workflows_hourly_raw AS
SELECT
    toDateTime(toStartOfHour(start_time), 'UTC') AS hour,
    workflow,
    team,
    department,
    cost_center,
    feature,
    service,
    environment,
    provider,
    if(priced_model != '', priced_model, if(response_model != '', response_model, request_model)) AS model,
    count() AS calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cost_usd) AS cost_usd
FROM ${DB}.llm_calls FINAL
GROUP BY hour, workflow, team, department, cost_center, feature, service, environment, provider, model;

CREATE TABLE IF NOT EXISTS ${DB}.workflows_hourly_sealed
(
    hour DateTime('UTC'),
    workflow LowCardinality(String),
    team LowCardinality(String),
    department LowCardinality(String),
    cost_center LowCardinality(String),
    feature LowCardinality(String),
    service LowCardinality(String),
    environment LowCardinality(String),
    provider LowCardinality(String),
    model LowCardinality(String),
    calls UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cost_usd Decimal(38, 18),
    generation UInt64
)
ENGINE = ReplacingMergeTree(generation)
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, workflow, team, feature, model, provider, environment, service, cost_center, department);

CREATE OR REPLACE VIEW ${DB}.workflows_hourly AS
SELECT hour, workflow, team, department, cost_center, feature, service, environment, provider, model,
       calls, input_tokens, output_tokens, cost_usd
FROM ${DB}.workflows_hourly_sealed FINAL
WHERE hour < (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
              WHERE rollup = 'workflows_hourly' AND advanced_at <= now64(3) - INTERVAL 5 SECOND)
  AND calls > 0
UNION ALL
SELECT hour, workflow, team, department, cost_center, feature, service, environment, provider, model,
       calls, input_tokens, output_tokens, cost_usd
FROM ${DB}.workflows_hourly_raw
WHERE hour >= (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
               WHERE rollup = 'workflows_hourly' AND advanced_at <= now64(3) - INTERVAL 5 SECOND);

CREATE TABLE IF NOT EXISTS ${DB}.workflows_daily_sealed
(
    day DateTime('UTC'),
    workflow LowCardinality(String),
    team LowCardinality(String),
    department LowCardinality(String),
    cost_center LowCardinality(String),
    feature LowCardinality(String),
    service LowCardinality(String),
    environment LowCardinality(String),
    provider LowCardinality(String),
    model LowCardinality(String),
    calls UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cost_usd Decimal(38, 18),
    generation UInt64
)
ENGINE = ReplacingMergeTree(generation)
PARTITION BY toYYYYMM(day)
ORDER BY (workflow, day, team, feature, model, provider, environment, service, cost_center, department);

-- Sealed days before its own frontier; the days after it are read from workflows_hourly.
CREATE OR REPLACE VIEW ${DB}.workflows_daily AS
SELECT day, workflow, team, department, cost_center, feature, service, environment, provider, model,
       calls, input_tokens, output_tokens, cost_usd
FROM ${DB}.workflows_daily_sealed FINAL
WHERE day < (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
             WHERE rollup = 'workflows_daily' AND advanced_at <= now64(3) - INTERVAL 5 SECOND)
  AND calls > 0;
