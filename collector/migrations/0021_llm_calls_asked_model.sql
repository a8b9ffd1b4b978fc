-- The model the app asked for when the guard downgraded the call (tokenledger.original_model), for
-- "downgrades saved". '' for every other call: reads take the call's request model then, so rows
-- stored before this column read asked = request model. The same statement as issue 21's migration
-- (IF NOT EXISTS: whichever runs second is a no-op).
ALTER TABLE ${DB}.llm_calls ADD COLUMN IF NOT EXISTS asked_model LowCardinality(String) DEFAULT '' AFTER request_model;
