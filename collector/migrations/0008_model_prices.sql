-- Catalog list prices per provider and model (USD per million tokens), written by the collector at
-- startup from the bundled @pydantic/genai-prices catalog. `provider` is tokenledger's provider name
-- (as in llm_calls / spend_hourly), `model` the catalog model id (as priced_model). `family` groups
-- tiers of one model line (gpt-4o / gpt-4o-mini) so dashboards can price a workload on cheaper
-- siblings. ReplacingMergeTree(synced_at): the latest sync of a model wins; read with FINAL.
CREATE TABLE IF NOT EXISTS ${DB}.model_prices
(
    provider LowCardinality(String),
    model String,
    family LowCardinality(String),
    input_mtok Decimal(38, 18),
    output_mtok Decimal(38, 18),
    -- The input price when the model has no separate cache-read price (cache reads cost input then).
    cache_read_mtok Decimal(38, 18),
    synced_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(synced_at)
ORDER BY (provider, model);

-- cheaper_than mapping: for each model, the models of the same provider and family that cost no
-- more for input and output and less for at least one of them.
CREATE VIEW IF NOT EXISTS ${DB}.model_alternatives AS
SELECT a.provider AS provider, a.model AS model, b.model AS cheaper_model, a.family AS family
FROM (SELECT * FROM ${DB}.model_prices FINAL) AS a
INNER JOIN (SELECT * FROM ${DB}.model_prices FINAL) AS b ON a.provider = b.provider AND a.family = b.family
WHERE b.model != a.model
  AND b.input_mtok <= a.input_mtok
  AND b.output_mtok <= a.output_mtok
  AND (b.input_mtok < a.input_mtok OR b.output_mtok < a.output_mtok);
