-- One budget-lease owner across collectors that share the store (issue 26). Time is cut into
-- rounds; each collector that wants to own a round inserts a claim whose insert_deduplication_token
-- derives from the round alone, so the engine keeps the first block and every collector reads back
-- the same owner (ClickHouse has no compare-and-set; block deduplication is the one atomic step).
-- `url` is where the other collectors forward lease requests to the owner.
CREATE TABLE IF NOT EXISTS ${DB}.lease_owner_claims
(
    round UInt64,
    claimant String,
    url String,
    claimed_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY round
TTL toDateTime(claimed_at) + INTERVAL 7 DAY
SETTINGS non_replicated_deduplication_window = 10000;
