-- Scoped ingest keys: which key sent a call or an outcome, and what it claimed outside its scope.
-- A claim outside the scope is recorded under the scope (spend is never dropped); the claimed
-- values stay here as JSON ({"team":"billing"}), '' when the span or outcome stayed in scope.
-- Rows stored before these columns read '' (no key recorded, nothing claimed).
ALTER TABLE ${DB}.llm_calls ADD COLUMN IF NOT EXISTS ingest_key LowCardinality(String) DEFAULT '';
ALTER TABLE ${DB}.llm_calls ADD COLUMN IF NOT EXISTS claimed_attribution String DEFAULT '';
ALTER TABLE ${DB}.outcomes ADD COLUMN IF NOT EXISTS ingest_key LowCardinality(String) DEFAULT '';
ALTER TABLE ${DB}.outcomes ADD COLUMN IF NOT EXISTS claimed_attribution String DEFAULT '';
