-- The hourly spend rollup becomes a cache rebuilt from the raw calls
-- (docs/decisions/0044-rollup-rebuilt-from-raw-calls.md): the
-- materialized view could miss a block (a crash between the raw insert and the push, a failed push)
-- and nothing ever repaired it. Raw calls are the truth; the rollup holds only sealed hours, which
-- the collector's maintainer builds from llm_calls FINAL; readers see sealed hours from the rollup
-- and the live tail from the raw calls, through the view that keeps the old name spend_hourly.
-- Upgrading drops the old rollup: every hour reads the raw calls until the maintainer has sealed it
-- (the repair of a rollup that already diverged). Each statement is idempotent.
DROP TABLE IF EXISTS ${DB}.spend_hourly_mv;

DROP TABLE IF EXISTS ${DB}.spend_hourly;

-- The raw calls aggregated per hour: the one definition of a rollup row, used for the live tail and
-- by the maintainer to build sealed hours (an outer WHERE on hour reaches the primary key).
CREATE OR REPLACE VIEW ${DB}.spend_hourly_raw AS
SELECT
    toDateTime(toStartOfHour(start_time), 'UTC') AS hour,
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
FROM ${DB}.llm_calls FINAL
GROUP BY hour, team, department, cost_center, feature, workflow, model, provider, environment, service, customer;

-- Sealed hours. Each build of an hour writes all its rows in one INSERT under a new generation
-- (tombstones with zero measures for groups that vanished), so FINAL shows, per group, the newest
-- build: a rebuild replaces an hour atomically.
CREATE TABLE IF NOT EXISTS ${DB}.spend_hourly_sealed
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
    cost_usd Decimal(38, 18),
    generation UInt64
)
ENGINE = ReplacingMergeTree(generation)
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, team, cost_center, feature, model, provider, environment, service, customer, department, workflow);

-- Hours before sealed_until are sealed, later ones are read from the raw calls. One row per move
-- (max wins); readers take a move only 5 s after it was written (advanced_at), after the rows it
-- publishes were (see the view).
CREATE TABLE IF NOT EXISTS ${DB}.rollup_frontier
(
    sealed_until DateTime('UTC'),
    advanced_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY advanced_at;

-- Each build of an hour: its generation and the marks it covers (marks up to covered_until).
CREATE TABLE IF NOT EXISTS ${DB}.rollup_seals
(
    hour DateTime('UTC'),
    generation UInt64,
    covered_until DateTime64(3, 'UTC'),
    sealed_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(generation)
ORDER BY hour;

-- Hours written after they ended, marked by the writer before it inserts the calls (crash-safe):
-- a mark newer than the hour's seal covers makes the maintainer rebuild the hour.
CREATE TABLE IF NOT EXISTS ${DB}.llm_calls_dirty_hours
(
    hour DateTime('UTC'),
    marked_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(marked_at)
ORDER BY hour;

-- What every reader, panel and alert reads. The frontier is one scalar subquery, written the same
-- in both branches: ClickHouse evaluates identical scalar subqueries once per query, so both
-- branches split the hours at the same instant, and no hour is read twice or missed. A move is
-- taken 5 s after it was written: a query resolves the rollup table before the frontier, and the
-- rows a move publishes were written before it.
CREATE OR REPLACE VIEW ${DB}.spend_hourly AS
SELECT
    hour, team, department, cost_center, feature, workflow, model, provider, environment, service, customer,
    calls, error_calls, unpriced_calls, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
    reasoning_tokens, cost_usd
FROM ${DB}.spend_hourly_sealed FINAL
WHERE hour < (SELECT max(sealed_until) FROM ${DB}.rollup_frontier WHERE advanced_at <= now64(3) - INTERVAL 5 SECOND)
  AND calls > 0
UNION ALL
SELECT
    hour, team, department, cost_center, feature, workflow, model, provider, environment, service, customer,
    calls, error_calls, unpriced_calls, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
    reasoning_tokens, cost_usd
FROM ${DB}.spend_hourly_raw
WHERE hour >= (SELECT max(sealed_until) FROM ${DB}.rollup_frontier WHERE advanced_at <= now64(3) - INTERVAL 5 SECOND);
