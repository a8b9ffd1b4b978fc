/** Models and savings: what each model costs, the token mix, and what cheaper siblings would cost. */
import type { DashboardDef } from './types';
import { PRICED_MODEL, share, table } from './sql';

const HOURLY = table('spend_hourly');
const CALLS = table('llm_calls');
const PRICES = table('model_prices');
const ALTERNATIVES = table('model_alternatives');

/** List-price cost of token columns at a model_prices row `p` (cache reads at the cache price). */
const listCost = (p: string): string =>
  `((input_tokens - cache_read_tokens) * ${p}.input_mtok + cache_read_tokens * ${p}.cache_read_mtok + output_tokens * ${p}.output_mtok) / 1000000`;

export const MODELS_DASHBOARD: DashboardDef = {
  uid: 'tokenledger-models',
  title: 'tokenledger — Models and savings',
  description:
    'Cost per model and provider, input/output/cache mix, and the same workload priced on cheaper models of the same family.',
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
FROM ${HOURLY}
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
  ${PRICED_MODEL} AS model,
  count() AS calls,
  sum(cost_usd) AS spend_usd,
  sum(input_cost_usd) AS input_cost_usd,
  sum(output_cost_usd) AS output_cost_usd,
  ${share('input_cost_usd', 'spend_usd')} AS input_cost_share,
  ${share('output_cost_usd', 'spend_usd')} AS output_cost_share,
  ${share('sum(cache_read_tokens)', 'sum(input_tokens)')} AS cached_input_share
FROM ${CALLS}
WHERE $__timeFilter(start_time)
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
        'cheaper_model',
        'spend_usd',
        'list_cost_usd',
        'cheaper_list_cost_usd',
        'list_savings_usd',
      ],
      title: 'Same workload on cheaper models',
      question:
        'What would the same tokens have cost on the cheaper models of the same family (catalog list prices)?',
      sql: `
SELECT
  u.provider AS provider,
  u.model AS model,
  a.cheaper_model AS cheaper_model,
  u.spend_usd AS spend_usd,
  ${listCost('p')} AS list_cost_usd,
  ${listCost('c')} AS cheaper_list_cost_usd,
  list_cost_usd - cheaper_list_cost_usd AS list_savings_usd
FROM
  (SELECT provider, model, sum(cost_usd) AS spend_usd, sum(input_tokens) AS input_tokens,
          sum(cache_read_tokens) AS cache_read_tokens, sum(output_tokens) AS output_tokens
   FROM ${HOURLY} WHERE $__timeFilter(hour) GROUP BY provider, model) AS u
  INNER JOIN ${ALTERNATIVES} AS a ON a.provider = u.provider AND a.model = u.model
  INNER JOIN (SELECT * FROM ${PRICES} FINAL) AS p ON p.provider = u.provider AND p.model = u.model
  INNER JOIN (SELECT * FROM ${PRICES} FINAL) AS c ON c.provider = a.provider AND c.model = a.cheaper_model
ORDER BY list_savings_usd DESC, provider, model, cheaper_model`,
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
