-- Catalog models that are previews or experiments (the id says so), which the savings panel does
-- not offer as alternatives unless the policy asks for them. Rows synced before read 0 until the
-- next sync at start.
ALTER TABLE ${DB}.model_prices ADD COLUMN IF NOT EXISTS preview UInt8 DEFAULT 0;
