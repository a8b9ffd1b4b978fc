-- The model the application asked for (tokenledger.original_model when the guard switched it, else
-- the request model; rows stored before read the request model) and the service's version
-- (resource service.version), for "downgrades saved" and automatic before/after baselines.
ALTER TABLE ${DB}.llm_calls ADD COLUMN IF NOT EXISTS asked_model LowCardinality(String) DEFAULT request_model AFTER response_model;
ALTER TABLE ${DB}.llm_calls ADD COLUMN IF NOT EXISTS service_version LowCardinality(String) DEFAULT '' AFTER service;
