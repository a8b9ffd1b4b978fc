/**
 * The AI inventory: which services call AI and through what, and which ingest key sent what —
 * with what each scoped key claimed outside its scope (recorded under the scope, the claim kept).
 * The same facts as the collector's `GET /v1/inventory` and `tokenledger inventory`.
 */
import type { DashboardDef } from './types';
import { labelled, PRICED_MODEL, RAW_CALLS } from './sql';

export const INVENTORY_DASHBOARD: DashboardDef = {
  uid: 'tokenledger-inventory',
  title: 'tokenledger — AI inventory',
  description:
    'Which services use AI, through which providers and models, and which ingest key sent what — calls attributed outside a key’s scope included.',
  tags: ['tokenledger', 'ai-spend', 'inventory'],
  timeFrom: 'now/M',
  timeTo: 'now',
  variables: [],
  panels: [
    {
      id: 'inventory-services',
      gridId: 1,
      columns: ['service', 'calls', 'spend_usd', 'providers', 'models'],
      title: 'Services using AI',
      question: 'Which services call AI, through which providers and models, and what do they spend?',
      sql: `
SELECT
  service,
  count() AS calls,
  sum(cost_usd) AS spend_usd,
  arrayStringConcat(arraySort(groupUniqArray(provider)), ', ') AS providers,
  arrayStringConcat(arraySort(groupUniqArray(${PRICED_MODEL})), ', ') AS models
FROM ${RAW_CALLS}
WHERE $__timeFilter(start_time)
GROUP BY service
ORDER BY spend_usd DESC, service`,
      format: 'table',
      visualization: 'table',
      unit: 'currencyUSD',
      width: 24,
    },
    {
      id: 'inventory-ingest-keys',
      gridId: 2,
      columns: ['ingest_key', 'key_scope', 'calls', 'spend_usd', 'out_of_scope_calls', 'claimed'],
      title: 'Ingest keys, and calls claimed outside their scope',
      question:
        'Which key sent which calls, what may each report for, and which calls did it attribute to a cost center outside its scope (recorded under the scope)?',
      sql: `
SELECT
  ingest_key,
  ${labelled('argMax(ingest_key_scope, start_time)', '(any)')} AS key_scope,
  count() AS calls,
  sum(cost_usd) AS spend_usd,
  countIf(claimed_attribution != '') AS out_of_scope_calls,
  arrayStringConcat(arraySort(groupUniqArrayIf(claimed_attribution, claimed_attribution != '')), ' ') AS claimed
FROM ${RAW_CALLS}
WHERE $__timeFilter(start_time) AND ingest_key != ''
GROUP BY ingest_key
ORDER BY out_of_scope_calls DESC, spend_usd DESC, ingest_key`,
      format: 'table',
      visualization: 'table',
      unit: 'currencyUSD',
      width: 24,
    },
  ],
};
