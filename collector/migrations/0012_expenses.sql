-- Card and expense-tool exports brought in with `tokenledger expenses import` /
-- POST /v1/expenses/imports: AI vendors paid outside the APIs (ChatGPT seats, Cursor, Copilot, …).
-- Kept like bills: every import stays (audit); the latest import of a source covering a day is
-- current for that source and day. Money is Decimal, in its currency and converted to USD.
CREATE TABLE IF NOT EXISTS ${DB}.expense_imports
(
    import_id String,
    sha256 String,
    source LowCardinality(String),
    file_name String,
    preset LowCardinality(String),
    imported_at DateTime64(3, 'UTC'),
    imported_by String,
    period_from Date,
    period_to Date,
    rows_read UInt64,
    lines_kept UInt64,
    ai_lines UInt64,
    problems String
)
ENGINE = MergeTree
ORDER BY (imported_at, import_id);

CREATE TABLE IF NOT EXISTS ${DB}.expense_coverage
(
    source LowCardinality(String),
    day Date,
    import_id String,
    imported_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (source, day, imported_at);

CREATE TABLE IF NOT EXISTS ${DB}.expense_lines
(
    import_id String,
    source LowCardinality(String),
    source_line UInt64,
    day Date,
    merchant String,
    vendor LowCardinality(String),
    product LowCardinality(String),
    amount Decimal(38, 18),
    currency LowCardinality(String),
    rate_to_usd Nullable(Decimal(38, 18)),
    amount_usd Nullable(Decimal(38, 18)),
    employee String,
    department String
)
ENGINE = MergeTree
ORDER BY (source, day, import_id, source_line);
