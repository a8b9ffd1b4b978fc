-- Provider bills brought in with `tokenledger reconcile import` / POST /v1/reconciliation/imports,
-- and the reconciliation of those bills with the meter. Every import is kept (audit): a later file
-- covering the same provider and days supersedes the earlier one's lines for those days through
-- bill_coverage (the latest import per provider × day is current), never by deleting. Money is
-- Decimal, in the line's own currency and, converted with the rate recorded beside it, in USD.
CREATE TABLE IF NOT EXISTS ${DB}.bill_imports
(
    import_id String,
    sha256 String,
    file_name String,
    format LowCardinality(String),
    imported_at DateTime64(3, 'UTC'),
    imported_by String,
    providers Array(String),
    period_from Date,
    period_to Date,
    rows_read UInt64,
    lines_kept UInt64,
    rows_skipped UInt64,
    problems String,
    rates String
)
ENGINE = MergeTree
ORDER BY (imported_at, import_id);

-- Which provider × UTC day each import declares it covers (its billing period, not only the days
-- with charges: a restated month with no charge on a day clears that day).
CREATE TABLE IF NOT EXISTS ${DB}.bill_coverage
(
    provider LowCardinality(String),
    day Date,
    import_id String,
    imported_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (provider, day, imported_at);

CREATE TABLE IF NOT EXISTS ${DB}.bill_lines
(
    import_id String,
    source_line UInt64,
    provider LowCardinality(String),
    day Date,
    model String,
    project String,
    api_key String,
    account String,
    service String,
    sku String,
    line_item String,
    charge LowCardinality(String),
    pricing LowCardinality(String),
    amount Decimal(38, 18),
    currency LowCardinality(String),
    rate_to_usd Nullable(Decimal(38, 18)),
    amount_usd Nullable(Decimal(38, 18)),
    quantity Nullable(Decimal(38, 18)),
    unit String
)
ENGINE = MergeTree
ORDER BY (provider, day, import_id, source_line);

-- The latest reconciliation of each provider × UTC month, for the dashboards (the API computes
-- it fresh and stores it here; the collector refreshes it after imports and periodically).
CREATE TABLE IF NOT EXISTS ${DB}.reconciliation_runs
(
    run_id String,
    provider LowCardinality(String),
    month Date,
    computed_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (provider, month, computed_at);

CREATE TABLE IF NOT EXISTS ${DB}.reconciliation_lines
(
    run_id String,
    provider LowCardinality(String),
    day Date,
    model String,
    project String,
    status LowCardinality(String),
    explanation LowCardinality(String),
    billed_usd Decimal(38, 18),
    metered_usd Decimal(38, 18),
    covered_usd Decimal(38, 18),
    unmetered_usd Decimal(38, 18),
    metered_not_billed_usd Decimal(38, 18),
    late_usd Decimal(38, 18),
    credits_usd Decimal(38, 18),
    other_usd Decimal(38, 18),
    calls UInt64
)
ENGINE = MergeTree
ORDER BY (provider, day, run_id);
