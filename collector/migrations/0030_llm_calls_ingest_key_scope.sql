-- The scope of the ingest key that sent a call, as it was when the call was stored
-- (`team=search;service=api|web`, '' for an unscoped key): the inventory's panels show each key with
-- its scope from the calls alone, a revoked or re-scoped key included. Rows stored before read ''.
ALTER TABLE ${DB}.llm_calls ADD COLUMN IF NOT EXISTS ingest_key_scope LowCardinality(String) DEFAULT '';
