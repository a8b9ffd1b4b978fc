-- The model the app asked for when the guard downgraded the call (tokenledger.original_model), so
-- reports can show what was downgraded (`report --by asked_model`). '' for every other call: reads
-- take the call's model then, so rows stored before this column read asked = model.
ALTER TABLE ${DB}.llm_calls ADD COLUMN IF NOT EXISTS asked_model LowCardinality(String) DEFAULT '';
