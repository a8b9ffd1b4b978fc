-- 1 on a row one of whose text values (team, feature, customer, model, …) was longer than the
-- collector stores (TOKENLEDGER_MAX_ATTRIBUTE_LENGTH, 256 characters by default) and was cut to it.
-- Rows stored before it read 0: earlier versions stored such values whole.
ALTER TABLE ${DB}.llm_calls ADD COLUMN IF NOT EXISTS truncated UInt8 DEFAULT 0;
ALTER TABLE ${DB}.ai_http_calls ADD COLUMN IF NOT EXISTS truncated UInt8 DEFAULT 0;
