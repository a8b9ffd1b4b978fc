-- Every policy file the collector loaded or reloaded, in full (the validated policy as JSON), so a
-- past budget period is judged against the limit in force then. One row per load; the same
-- version loaded again (a restart) is a new row: what was in force is the latest row at a time.
CREATE TABLE IF NOT EXISTS ${DB}.policy_versions
(
    at DateTime64(3, 'UTC'),
    version String,
    action LowCardinality(String),
    file String,
    policy String
)
ENGINE = MergeTree
ORDER BY (at, version);
