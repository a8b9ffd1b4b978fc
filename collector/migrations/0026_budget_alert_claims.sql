-- One sender per alert when several collectors share the store (issue 26). Before sending, a
-- collector claims the alert for the current round; the claims of one alert and round carry the
-- same insert_deduplication_token, so the engine keeps the first block and every collector reads
-- back who won (ClickHouse has no compare-and-set; block deduplication is the one atomic step).
CREATE TABLE IF NOT EXISTS ${DB}.budget_alert_claims
(
    policy String,
    period_start DateTime('UTC'),
    threshold Decimal(9, 4),
    channel LowCardinality(String),
    target String,
    round UInt64,
    claimant String,
    claimed_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (policy, period_start, threshold, channel, target, round)
TTL toDateTime(claimed_at) + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 10000;
