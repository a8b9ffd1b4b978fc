-- One row per LLM call (a GenAI span), priced at the time of the call.
-- ReplacingMergeTree on (hour, trace_id, span_id) is the second guard against a retried span
-- being stored twice (the writer's lookup is the first); money is Decimal, never Float.
CREATE TABLE IF NOT EXISTS ${DB}.llm_calls
(
    trace_id String,
    span_id String,
    start_time DateTime64(9, 'UTC'),
    duration_ms Float64,
    provider LowCardinality(String),
    operation LowCardinality(String),
    request_model LowCardinality(String),
    response_model LowCardinality(String),
    priced_provider LowCardinality(String),
    priced_model LowCardinality(String),
    input_tokens UInt64,
    output_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens UInt64,
    streaming UInt8,
    error_type LowCardinality(String),
    server_address LowCardinality(String),
    enforcement LowCardinality(String),
    source LowCardinality(String),
    team LowCardinality(String),
    department LowCardinality(String),
    cost_center LowCardinality(String),
    feature LowCardinality(String),
    workflow LowCardinality(String),
    customer String,
    user_tier LowCardinality(String),
    environment LowCardinality(String),
    service LowCardinality(String),
    end_user String,
    approval_id String,
    cost_usd Decimal(38, 18),
    input_cost_usd Decimal(38, 18),
    output_cost_usd Decimal(38, 18),
    priced UInt8,
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(start_time)
ORDER BY (toStartOfHour(start_time), trace_id, span_id)
SETTINGS non_replicated_deduplication_window = 1000;
