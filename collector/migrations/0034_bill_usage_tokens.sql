-- Token usage exports (OpenAI's Usage API, Anthropic's messages usage report) beside the bills, and
-- their reconciliation with the meter's tokens. A usage export supersedes only earlier usage
-- exports of the same provider × day (bill_coverage.kind), never a cost bill, and the reverse.
ALTER TABLE ${DB}.bill_coverage ADD COLUMN IF NOT EXISTS kind LowCardinality(String) DEFAULT 'cost';

CREATE TABLE IF NOT EXISTS ${DB}.bill_usage_lines
(
    import_id String,
    source_line UInt64,
    provider LowCardinality(String),
    day Date,
    model String,
    project String,
    api_key String,
    tier LowCardinality(String),
    input_tokens UInt64,
    cached_input_tokens UInt64,
    cache_write_tokens UInt64,
    output_tokens UInt64,
    requests Nullable(UInt64)
)
ENGINE = MergeTree
ORDER BY (provider, day, import_id, source_line);

-- Per provider × day × model (× project) of a reconciliation run: billed vs metered tokens.
CREATE TABLE IF NOT EXISTS ${DB}.reconciliation_token_lines
(
    run_id String,
    provider LowCardinality(String),
    day Date,
    model String,
    project String,
    status LowCardinality(String),
    billed_input_tokens UInt64,
    metered_input_tokens UInt64,
    billed_cached_input_tokens UInt64,
    metered_cached_input_tokens UInt64,
    billed_output_tokens UInt64,
    metered_output_tokens UInt64,
    billed_requests Nullable(UInt64),
    calls UInt64
)
ENGINE = MergeTree
ORDER BY (provider, day, run_id);
