-- One row per HTTP request to a known AI API host that no GenAI span recorded (uninstrumented,
-- "shadow" AI traffic), for the inventory. Keyed like llm_calls: ReplacingMergeTree on
-- (hour, trace_id, span_id), and the inventory counts distinct (trace_id, span_id), so a retried
-- export never counts twice.
CREATE TABLE IF NOT EXISTS ${DB}.ai_http_calls
(
    trace_id String,
    span_id String,
    start_time DateTime64(9, 'UTC'),
    duration_ms Float64,
    service LowCardinality(String),
    environment LowCardinality(String),
    host LowCardinality(String),
    provider LowCardinality(String),
    method LowCardinality(String),
    path String,
    status_code UInt16,
    source LowCardinality(String),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(start_time)
ORDER BY (toStartOfHour(start_time), trace_id, span_id)
SETTINGS non_replicated_deduplication_window = 1000;
