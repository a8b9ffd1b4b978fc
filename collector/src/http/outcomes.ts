/**
 * POST /v1/outcomes: business outcomes (a ticket resolved, an order placed) so dashboards can show
 * AI cost per outcome. Body: one outcome or `{ outcomes: [...] }`; each has a client-chosen `id`
 * that makes a retried report idempotent (one row per id: storage/outcomes.ts).
 */
import express from 'express';
import type { KeyRing } from '../govern/keys/keys';
import { applyScope, formatScope } from '../govern/keys/scope';
import { requireScope } from './auth';
import type { CollectorMetrics } from './metrics';
import { Money } from '../core/money';
import type { Storage } from '../storage/client';
import { StorageError } from '../storage/errors';
import { OutcomeStore, type OutcomeRow } from '../storage/outcomes';
import { EARLIEST_STORED_TIME, LATEST_STORED_TIME, isStorableTime } from '../core/time-range';
import type { KeyScope, OutcomeReport, OutcomesAccepted, OutcomesRequest, Unchecked } from 'tokenledger/wire';
import { jsonBody } from './json-body';

const MAX_OUTCOMES_PER_REQUEST = 10_000;
const MAX_TEXT = 256;
const MAX_COUNT = 1_000_000_000;
const DECIMAL = /^\d{1,20}(\.\d{1,18})?$/;

class OutcomeError extends Error {}

function text(o: Unchecked<OutcomeReport>, key: keyof OutcomeReport, at: string, required: boolean): string {
  const v = o[key];
  if (v === undefined || v === null || v === '') {
    if (required) throw new OutcomeError(`${at}.${key} is required`);
    return '';
  }
  if (typeof v !== 'string' || v.length > MAX_TEXT)
    throw new OutcomeError(`${at}.${key} must be a string of at most ${MAX_TEXT} characters`);
  return v;
}

/** ClickHouse DateTime64(3) text in UTC. */
const toClickHouseTime = (d: Date): string => d.toISOString().replace('T', ' ').replace('Z', '');

function parseOutcome(raw: unknown, at: string, now: Date): OutcomeRow {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new OutcomeError(`${at} must be an object`);
  const o = raw as Unchecked<OutcomeReport>;
  const count = o.count ?? 1;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > MAX_COUNT)
    throw new OutcomeError(`${at}.count must be a whole number from 0 to ${MAX_COUNT}`);
  const value = o.value_usd ?? '0';
  const valueText = typeof value === 'number' ? String(value) : value;
  if (typeof valueText !== 'string' || !DECIMAL.test(valueText))
    throw new OutcomeError(`${at}.value_usd must be a non-negative decimal (string or number), e.g. "12.50"`);
  let time = now;
  if (o.time !== undefined) {
    time = new Date(typeof o.time === 'string' ? o.time : NaN);
    if (Number.isNaN(time.getTime())) throw new OutcomeError(`${at}.time must be an ISO 8601 timestamp`);
    if (!isStorableTime(time))
      throw new OutcomeError(
        `${at}.time must be between ${EARLIEST_STORED_TIME.toISOString()} and ${LATEST_STORED_TIME.toISOString()}`,
      );
  }
  return {
    id: text(o, 'id', at, true),
    time: toClickHouseTime(time),
    feature: text(o, 'feature', at, true),
    outcome: text(o, 'outcome', at, true),
    count,
    value_usd: new Money(valueText).toFixed(),
    team: text(o, 'team', at, false),
    cost_center: text(o, 'cost_center', at, false),
    customer: text(o, 'customer', at, false),
    environment: text(o, 'environment', at, false),
    service: text(o, 'service', at, false),
    ingest_key: '',
    claimed_attribution: '',
  };
}

/** The outcome fields a key's scope can govern (outcomes have no department). */
type ScopedOutcomeField = 'team' | 'cost_center' | 'service';
const isScopedOutcomeField = (f: string): f is ScopedOutcomeField =>
  f === 'team' || f === 'cost_center' || f === 'service';

/** Files an outcome under the key's scope; true when it claimed something outside it (kept, flagged). */
function fileUnderKey(row: OutcomeRow, name: string, scope: KeyScope | undefined): boolean {
  row.ingest_key = name;
  if (!scope) return false;
  const claimed = applyScope(
    scope,
    (f) => (isScopedOutcomeField(f) ? row[f] : undefined),
    (f, v) => {
      if (isScopedOutcomeField(f)) row[f] = v;
    },
  );
  if (!claimed) return false;
  row.claimed_attribution = JSON.stringify(claimed);
  return true;
}

function parseOutcomes(body: unknown, now = new Date()): OutcomeRow[] {
  const list =
    typeof body === 'object' && body !== null && 'outcomes' in body
      ? (body as Unchecked<OutcomesRequest>).outcomes
      : [body];
  if (!Array.isArray(list) || list.length === 0)
    throw new OutcomeError('body must be an outcome or { outcomes: [...] }');
  if (list.length > MAX_OUTCOMES_PER_REQUEST)
    throw new OutcomeError(`at most ${MAX_OUTCOMES_PER_REQUEST} outcomes per request`);
  return list.map((o, i) => parseOutcome(o, `outcomes[${i}]`, now));
}

export function outcomesRouter(keys: KeyRing, storage: Storage, metrics?: CollectorMetrics): express.Router {
  const router = express.Router();
  const outcomes = new OutcomeStore(storage);
  router.post('/v1/outcomes', requireScope(keys, 'ingest'), jsonBody('4mb'), async (req, res, next) => {
    let rows: OutcomeRow[];
    try {
      rows = parseOutcomes(req.body);
    } catch (err) {
      if (err instanceof OutcomeError) {
        res.status(400).json({ error: err.message });
        return;
      }
      throw err;
    }
    const { name, scope } = req.principal!;
    const outside = rows.filter((r) => fileUnderKey(r, name, scope)).length;
    try {
      await outcomes.store(rows);
      const accepted: OutcomesAccepted = { accepted: rows.length };
      if (outside > 0) {
        metrics?.add('tokenledger_outcomes_out_of_scope_total', outside);
        accepted.out_of_scope = outside;
        accepted.warning =
          `${outside} outcome(s) claimed attribution outside this key's scope (${formatScope(scope)}): ` +
          'recorded under the scope, the claimed values kept and flagged';
      }
      res.status(202).json(accepted);
    } catch (cause) {
      next(new StorageError('writing outcomes', { cause }));
    }
  });
  return router;
}
