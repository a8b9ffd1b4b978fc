-- The part of cache_write_tokens written to a 1-hour cache (Anthropic's extended TTL, Bedrock's
-- cacheDetails ttl=1h): Claude bills it at 2× input against 1.25× for 5-minute writes, so a call's
-- stored cost can only be checked against its tokens with this split. Rows stored before it read 0.
ALTER TABLE ${DB}.llm_calls ADD COLUMN IF NOT EXISTS cache_write_1h_tokens UInt64 DEFAULT 0 AFTER cache_write_tokens;
