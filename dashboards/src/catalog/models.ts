/** Models and savings: what each model costs, the token mix, and what cheaper siblings would cost. */
import type { DashboardDef } from './types';
import { boardRows, CALLS_HOURLY as HOURLY, DOWNGRADES_HOURLY, share, table } from './sql';

/** The boards' rollup over the range, mostly whole days. */
const BOARD = boardRows();

const PRICES = table('model_prices');

const POLICY_VERSIONS = table('policy_versions');

/**
 * List-price cost of token columns (of the row `t.`, default unqualified) at a model_prices row `p`,
 * cache reads at the cache price.
 */
const listCost = (p: string, t = ''): string =>
  `((${t}input_tokens - ${t}cache_read_tokens) * ${p}.input_mtok + ${t}cache_read_tokens * ${p}.cache_read_mtok + ${t}output_tokens * ${p}.output_mtok) / 1000000`;

/** Each model's workload in the range, from the rollup. */
const USAGE = `
  SELECT provider, model, sum(calls) AS calls, sum(cost_usd) AS spend_usd, sum(input_tokens) AS input_tokens,
         sum(cache_read_tokens) AS cache_read_tokens, sum(output_tokens) AS output_tokens
  FROM ${BOARD} WHERE $__timeFilter(hour) GROUP BY provider, model`;

export const MODELS_DASHBOARD: DashboardDef = {
  uid: 'tokenledger-models',
  title: 'tokenledger — Models and savings',
  description:
    'Cost per model and provider, input/output/cache mix, what the same workload would cost on the cheapest acceptable model, and what downgrades saved.',
  tags: ['tokenledger', 'ai-spend', 'models'],
  timeFrom: 'now/M',
  timeTo: 'now',
  variables: [],
  panels: [
    {
      id: 'models-cost-by-provider',
      gridId: 1,
      columns: ['provider', 'spend_usd'],
      title: 'Spend by provider',
      question: 'How is our AI spend split across providers?',
      sql: `
SELECT provider, sum(cost_usd) AS spend_usd
FROM ${BOARD}
WHERE $__timeFilter(hour)
GROUP BY provider
ORDER BY spend_usd DESC, provider`,
      format: 'table',
      visualization: 'piechart',
      unit: 'currencyUSD',
      width: 8,
    },
    {
      id: 'models-cost-mix',
      gridId: 2,
      columns: [
        'provider',
        'model',
        'calls',
        'spend_usd',
        'input_cost_usd',
        'output_cost_usd',
        'input_cost_share',
        'output_cost_share',
        'cached_input_share',
      ],
      title: 'Cost per model: input, output, cached',
      question:
        'Per model, how much of the cost is input, output, and how much of the input was served from cache?',
      sql: `
SELECT
  provider,
  model,
  sum(calls) AS calls,
  sum(cost_usd) AS spend_usd,
  sum(input_cost_usd) AS input_cost_usd,
  sum(output_cost_usd) AS output_cost_usd,
  ${share('input_cost_usd', 'spend_usd')} AS input_cost_share,
  ${share('output_cost_usd', 'spend_usd')} AS output_cost_share,
  ${share('sum(cache_read_tokens)', 'sum(input_tokens)')} AS cached_input_share
FROM ${BOARD}
WHERE $__timeFilter(hour)
GROUP BY provider, model
ORDER BY spend_usd DESC, provider, model`,
      format: 'table',
      visualization: 'table',
      unit: 'currencyUSD',
      width: 16,
    },
    {
      id: 'models-savings',
      gridId: 3,
      columns: [
        'provider',
        'model',
        'calls',
        'spend_usd',
        'list_cost_usd',
        'cheaper_model',
        'alternative_source',
        'cheaper_list_cost_usd',
        'list_savings_usd',
      ],
      title: 'Same workload on the cheapest acceptable model',
      question:
        'Per model in use, what would the same tokens cost on its cheapest acceptable alternative (the same family, or the ones the policy allows; catalog list prices)?',
      sql: `
WITH
  ifNull((SELECT argMax(policy, at) FROM ${POLICY_VERSIONS}), '') AS policy_json,
  JSONExtract(policy_json, 'savings', 'alternatives', 'Map(String, Array(String))') AS allowed,
  JSONExtractBool(policy_json, 'savings', 'include_preview') AS with_preview
SELECT
  u.provider AS provider,
  u.model AS model,
  u.calls AS calls,
  u.spend_usd AS spend_usd,
  b.list_cost_usd AS list_cost_usd,
  b.cheaper_model AS cheaper_model,
  b.alternative_source AS alternative_source,
  b.cheaper_list_cost_usd AS cheaper_list_cost_usd,
  b.list_cost_usd - b.cheaper_list_cost_usd AS list_savings_usd
FROM (${USAGE}) AS u
LEFT JOIN (
  SELECT
    provider,
    model,
    any(own_cost) AS list_cost_usd,
    argMin(alternative, (alternative_cost, alternative)) AS cheaper_model,
    argMin(source, (alternative_cost, alternative)) AS alternative_source,
    min(alternative_cost) AS cheaper_list_cost_usd
  FROM (
    SELECT
      u.provider AS provider,
      u.model AS model,
      ${listCost('p')} AS own_cost,
      c.model AS alternative,
      ${listCost('c')} AS alternative_cost,
      if(mapContains(allowed, u.model), 'policy', 'family') AS source
    FROM (${USAGE}) AS u
    INNER JOIN (SELECT * FROM ${PRICES} FINAL) AS p ON p.provider = u.provider AND p.model = u.model
    CROSS JOIN (SELECT * FROM ${PRICES} FINAL) AS c
    WHERE if(
      mapContains(allowed, u.model),
      has(allowed[u.model], c.model),
      c.provider = u.provider AND c.family = p.family AND c.model != u.model
        AND c.input_mtok <= p.input_mtok AND c.output_mtok <= p.output_mtok
        AND (c.input_mtok < p.input_mtok OR c.output_mtok < p.output_mtok)
        AND (with_preview OR c.preview = 0))
  )
  WHERE alternative_cost < own_cost
  GROUP BY provider, model
) AS b ON b.provider = u.provider AND b.model = u.model
ORDER BY list_savings_usd DESC NULLS LAST, spend_usd DESC, provider, model
SETTINGS join_use_nulls = 1`,
      format: 'table',
      visualization: 'table',
      unit: 'currencyUSD',
      width: 24,
    },
    {
      id: 'models-downgrades-saved',
      gridId: 5,
      columns: [
        'asked_model',
        'model',
        'calls',
        'spend_usd',
        'asked_list_cost_usd',
        'list_cost_usd',
        'downgrade_saved_usd',
      ],
      title: 'Saved by downgrades',
      question:
        'What did the calls the policy guard moved to a cheaper model save, against the model the app asked for (catalog list prices)?',
      sql: `
SELECT
  d.asked_model AS asked_model,
  d.model AS model,
  d.calls AS calls,
  d.spend_usd AS spend_usd,
  ${listCost('a', 'd.')} AS asked_list_cost_usd,
  ${listCost('p', 'd.')} AS list_cost_usd,
  asked_list_cost_usd - list_cost_usd AS downgrade_saved_usd
FROM
  (SELECT provider, asked_model, model, sum(calls) AS calls, sum(cost_usd) AS spend_usd,
          sum(input_tokens) AS input_tokens, sum(cache_read_tokens) AS cache_read_tokens,
          sum(output_tokens) AS output_tokens
   FROM ${DOWNGRADES_HOURLY}
   WHERE $__timeFilter(hour)
   GROUP BY provider, asked_model, model) AS d
  LEFT JOIN (SELECT * FROM ${PRICES} FINAL) AS a ON a.provider = d.provider AND a.model = d.asked_model
  LEFT JOIN (SELECT * FROM ${PRICES} FINAL) AS p ON p.provider = d.provider AND p.model = d.model
ORDER BY downgrade_saved_usd DESC NULLS LAST, asked_model, model
SETTINGS join_use_nulls = 1`,
      format: 'table',
      visualization: 'table',
      unit: 'currencyUSD',
      width: 24,
    },
    {
      id: 'models-tokens-over-time',
      gridId: 4,
      columns: ['time', 'uncached_input_tokens', 'cached_input_tokens', 'output_tokens'],
      title: 'Tokens over time',
      question: 'How many input, cached and output tokens do we use over time?',
      sql: `
SELECT
  toStartOfInterval(hour, toIntervalSecond(greatest($__interval_s, 3600))) AS time,
  sum(input_tokens) - sum(cache_read_tokens) AS uncached_input_tokens,
  sum(cache_read_tokens) AS cached_input_tokens,
  sum(output_tokens) AS output_tokens
FROM ${HOURLY}
WHERE $__timeFilter(hour)
GROUP BY time
ORDER BY time`,
      format: 'time_series',
      visualization: 'timeseries',
      unit: 'short',
      width: 24,
    },
  ],
};
