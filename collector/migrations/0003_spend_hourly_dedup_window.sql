-- The rollup must drop a block the materialized view re-sends for an insert that llm_calls
-- deduplicated (same insert_deduplication_token): ClickHouse only deduplicates a non-replicated
-- MergeTree with a window, and the MV's target needs its own (0002 gave one only to llm_calls).
-- MODIFY SETTING is idempotent.
ALTER TABLE ${DB}.spend_hourly MODIFY SETTING non_replicated_deduplication_window = 1000;
