-- The service's version (resource service.version), for automatic before/after baselines when a
-- feature's spans carry a new one.
ALTER TABLE ${DB}.llm_calls ADD COLUMN IF NOT EXISTS service_version LowCardinality(String) DEFAULT '' AFTER service;
