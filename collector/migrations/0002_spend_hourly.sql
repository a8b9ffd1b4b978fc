-- Hourly spend rollup that reports and dashboards read; fed by a materialized view from llm_calls,
-- so every stored call lands in it exactly once. Read with sum() + GROUP BY (parts may be unmerged).
CREATE TABLE IF NOT EXISTS ${DB}.spend_hourly
(
    hour DateTime('UTC'),
    team LowCardinality(String),
    department LowCardinality(String),
    cost_center LowCardinality(String),
    feature LowCardinality(String),
    workflow LowCardinality(String),
    model LowCardinality(String),
    provider LowCardinality(String),
    environment LowCardinality(String),
    service LowCardinality(String),
    customer String,
    calls UInt64,
    error_calls UInt64,
    unpriced_calls UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens UInt64,
    cost_usd Decimal(38, 18)
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, team, cost_center, feature, model, provider, environment, service, customer, department, workflow);

CREATE MATERIALIZED VIEW IF NOT EXISTS ${DB}.spend_hourly_mv TO ${DB}.spend_hourly AS
SELECT
    toStartOfHour(start_time) AS hour,
    team,
    department,
    cost_center,
    feature,
    workflow,
    if(priced_model != '', priced_model, if(response_model != '', response_model, request_model)) AS model,
    provider,
    environment,
    service,
    customer,
    count() AS calls,
    countIf(error_type != '') AS error_calls,
    countIf(priced = 0) AS unpriced_calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(cost_usd) AS cost_usd
FROM ${DB}.llm_calls
GROUP BY hour, team, department, cost_center, feature, workflow, model, provider, environment, service, customer;
