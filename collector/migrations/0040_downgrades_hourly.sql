-- The calls the policy guard downgraded, per hour, the model the app asked for and the one it got
-- (docs/decisions/0081-panel-grain-rollups.md): the "Saved by downgrades" panel read a month of raw
-- calls for them, the asked model being in no other rollup. A handful of rows an hour whatever the
-- volume. Built like calls_hourly (decision 0079): sealed hours by the maintainer from llm_calls
-- FINAL under the same generation, the live tail from the raw calls, its own frontier, so on an
-- existing store every hour reads the raw calls until the maintainer has filled it. Idempotent.

CREATE OR REPLACE VIEW ${DB}.downgrades_hourly_raw AS
SELECT
    toDateTime(toStartOfHour(start_time), 'UTC') AS hour,
    provider,
    asked_model,
    if(priced_model != '', priced_model, if(response_model != '', response_model, request_model)) AS model,
    count() AS calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cost_usd) AS cost_usd
FROM ${DB}.llm_calls FINAL
WHERE enforcement = 'downgraded' AND asked_model NOT IN ('', request_model)
GROUP BY hour, provider, asked_model, model;

CREATE TABLE IF NOT EXISTS ${DB}.downgrades_hourly_sealed
(
    hour DateTime('UTC'),
    provider LowCardinality(String),
    asked_model LowCardinality(String),
    model LowCardinality(String),
    calls UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cache_read_tokens UInt64,
    cost_usd Decimal(38, 18),
    generation UInt64
)
ENGINE = ReplacingMergeTree(generation)
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, provider, asked_model, model);

CREATE OR REPLACE VIEW ${DB}.downgrades_hourly AS
SELECT hour, provider, asked_model, model, calls, input_tokens, output_tokens, cache_read_tokens, cost_usd
FROM ${DB}.downgrades_hourly_sealed FINAL
WHERE hour < (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
              WHERE rollup = 'downgrades_hourly' AND advanced_at <= now64(3) - INTERVAL 5 SECOND)
  AND calls > 0
UNION ALL
SELECT hour, provider, asked_model, model, calls, input_tokens, output_tokens, cache_read_tokens, cost_usd
FROM ${DB}.downgrades_hourly_raw
WHERE hour >= (SELECT max(sealed_until) FROM ${DB}.rollup_frontiers
               WHERE rollup = 'downgrades_hourly' AND advanced_at <= now64(3) - INTERVAL 5 SECOND);
