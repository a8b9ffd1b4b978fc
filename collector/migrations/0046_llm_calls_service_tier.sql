-- The service tier the provider says served the call (openai.response.service_tier: default, flex,
-- priority, scale; anthropic.response.service_tier: standard, priority, batch), lower case, so the
-- reconciliation can explain a Flex day billed below the meter's list price and a Priority day
-- billed above it. '' when the span does not say: rows stored before this column read as unknown.
ALTER TABLE ${DB}.llm_calls ADD COLUMN IF NOT EXISTS service_tier LowCardinality(String) DEFAULT '' AFTER service_version;
