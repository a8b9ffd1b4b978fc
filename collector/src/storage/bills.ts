/**
 * Provider bills in ClickHouse: imports (kept forever, for audit), the days each covers, their
 * lines, and stored reconciliation runs. The current bill of a provider × day is the latest import
 * covering it; earlier imports stay, superseded. Values travel as query parameters only.
 */
import type { BillLine, ImportKind, UsageLine } from '../core/bill';
import type { Storage } from './client';
import { LOCAL_SUFFIX } from './cluster-ddl';
import { StorageError } from './errors';

export interface BillImportRecord {
  import_id: string;
  sha256: string;
  file_name: string;
  format: string;
  imported_at: string;
  imported_by: string;
  providers: string[];
  period_from: string;
  period_to: string;
  rows_read: number;
  lines_kept: number;
  rows_skipped: number;
  /** JSON: the first problems, and their count. */
  problems: string;
  /** JSON: currency → USD rate used. */
  rates: string;
}

export interface StoredBillLine extends BillLine {
  importId: string;
  /** USD per unit of the line's currency; undefined when no rate was known. */
  rateToUsd?: string;
  amountUsd?: string;
}

export interface ReconciliationLineRow {
  provider: string;
  day: string;
  model: string;
  project: string;
  status: string;
  explanation: string;
  billed_usd: string;
  metered_usd: string;
  covered_usd: string;
  unmetered_usd: string;
  metered_not_billed_usd: string;
  late_usd: string;
  credits_usd: string;
  other_usd: string;
  calls: number;
}

export interface StoredUsageLine extends UsageLine {
  importId: string;
}

/** Billed vs metered tokens of one provider × day × model × project. */
export interface TokenReconciliationRow {
  provider: string;
  day: string;
  model: string;
  project: string;
  status: string;
  billed_input_tokens: number;
  metered_input_tokens: number;
  billed_cached_input_tokens: number;
  metered_cached_input_tokens: number;
  billed_output_tokens: number;
  metered_output_tokens: number;
  /** Requests the export counted (OpenAI's num_model_requests); null when it gives none. */
  billed_requests: number | null;
  /** Calls the meter stored. */
  calls: number;
}

/** ClickHouse DateTime64(3) text in UTC. */
export const clickhouseTime = (d: Date): string => d.toISOString().replace('T', ' ').replace('Z', '');

export class BillStore {
  constructor(private readonly storage: Storage) {}

  private table(name: string): string {
    return `${this.storage.database}.${name}`;
  }

  private async rows<T>(query: string, params: Record<string, unknown>, what: string): Promise<T[]> {
    try {
      const rs = await this.storage.client.query({ query, query_params: params, format: 'JSONEachRow' });
      return await rs.json<T>();
    } catch (cause) {
      throw new StorageError(what, { cause });
    }
  }

  private async insert(table: string, values: unknown[], what: string): Promise<void> {
    if (values.length === 0) return;
    try {
      await this.storage.client.insert({ table: this.table(table), values, format: 'JSONEachRow' });
    } catch (cause) {
      throw new StorageError(what, { cause });
    }
  }

  async importBySha(sha256: string): Promise<BillImportRecord | undefined> {
    const rows = await this.rows<BillImportRecord>(
      `SELECT * FROM ${this.table('bill_imports')} WHERE sha256 = {sha:String} ORDER BY imported_at LIMIT 1`,
      { sha: sha256 },
      'looking up a bill import',
    );
    return rows[0] ? normaliseImport(rows[0]) : undefined;
  }

  /** Imports whose coverage of these provider × days the new import takes over (still current there). */
  async currentImportsCovering(
    coverage: Array<{ provider: string; day: string }>,
    kind: ImportKind = 'cost',
  ): Promise<string[]> {
    if (coverage.length === 0) return [];
    const rows = await this.rows<{ import_id: string }>(
      `SELECT DISTINCT current_import AS import_id FROM (
         SELECT provider, day, argMax(import_id, imported_at) AS current_import
         FROM ${this.table('bill_coverage')}
         WHERE concat(provider, '|', toString(day)) IN {keys:Array(String)} AND kind = {kind:String}
         GROUP BY provider, day)
       ORDER BY import_id`,
      { keys: coverage.map((c) => `${c.provider}|${c.day}`), kind },
      'looking up superseded bill imports',
    );
    return rows.map((r) => r.import_id);
  }

  /** Lines first, then coverage, then the import record: a crash midway leaves nothing current. */
  async save(
    record: BillImportRecord,
    lines: StoredBillLine[],
    coverage: Array<{ provider: string; day: string }>,
    usage: UsageLine[] = [],
    kind: ImportKind = 'cost',
  ): Promise<void> {
    for (let i = 0; i < usage.length; i += 50_000) {
      await this.insert(
        'bill_usage_lines',
        usage.slice(i, i + 50_000).map((u) => ({
          import_id: record.import_id,
          source_line: u.sourceLine,
          provider: u.provider,
          day: u.day,
          model: u.model,
          project: u.project,
          api_key: u.apiKey,
          tier: u.tier,
          input_tokens: u.inputTokens,
          cached_input_tokens: u.cachedInputTokens,
          cache_write_tokens: u.cacheWriteTokens,
          output_tokens: u.outputTokens,
          requests: u.requests ?? null,
        })),
        'writing usage lines',
      );
    }
    for (let i = 0; i < lines.length; i += 50_000) {
      await this.insert(
        'bill_lines',
        lines.slice(i, i + 50_000).map((l) => ({
          import_id: record.import_id,
          source_line: l.sourceLine,
          provider: l.provider,
          day: l.day,
          model: l.model,
          project: l.project,
          api_key: l.apiKey,
          account: l.account,
          service: l.service,
          sku: l.sku,
          line_item: l.lineItem,
          charge: l.charge,
          pricing: l.pricing,
          amount: l.amount,
          currency: l.currency,
          rate_to_usd: l.rateToUsd ?? null,
          amount_usd: l.amountUsd ?? null,
          quantity: l.quantity ?? null,
          unit: l.unit,
        })),
        'writing bill lines',
      );
    }
    await this.insert(
      'bill_coverage',
      coverage.map((c) => ({ ...c, kind, import_id: record.import_id, imported_at: record.imported_at })),
      'writing bill coverage',
    );
    await this.insert('bill_imports', [record], 'writing the bill import');
  }

  async imports(): Promise<BillImportRecord[]> {
    const rows = await this.rows<BillImportRecord>(
      `SELECT * FROM ${this.table('bill_imports')} ORDER BY imported_at DESC, import_id`,
      {},
      'listing bill imports',
    );
    return rows.map(normaliseImport);
  }

  /**
   * The rows of `table` (bill_lines, bill_usage_lines) in [from, to) that belong to the current
   * import of `kind` per provider × day. Only imports that finished (have their record) count.
   */
  private currentRows(
    table: string,
    kind: ImportKind,
    from: string,
    to: string,
    what: string,
  ): Promise<Array<Record<string, string | number | null>>> {
    return this.rows<Record<string, string | number | null>>(
      `SELECT l.*
       FROM ${this.table(table)} AS l
       WHERE l.day >= toDate({from:String}) AND l.day < toDate({to:String})
         AND (l.provider, l.day, l.import_id) IN (
           SELECT provider, day, argMax(import_id, imported_at)
           FROM ${this.table('bill_coverage')}
           WHERE day >= toDate({from:String}) AND day < toDate({to:String}) AND kind = {kind:String}
             AND import_id IN (SELECT import_id FROM ${this.table('bill_imports')})
           GROUP BY provider, day)
       ORDER BY l.provider, l.day, l.import_id, l.source_line`,
      { from, to, kind },
      what,
    );
  }

  /** The current bill lines in [from, to), converted amounts only where a rate was known. */
  async currentLines(from: string, to: string): Promise<StoredBillLine[]> {
    const rows = await this.currentRows('bill_lines', 'cost', from, to, 'reading bill lines');
    const opt = (v: string | number | null | undefined): string | undefined =>
      v === null || v === undefined ? undefined : String(v);
    return rows.map((r) => ({
      importId: String(r.import_id),
      sourceLine: Number(r.source_line),
      provider: String(r.provider),
      day: String(r.day),
      model: String(r.model),
      project: String(r.project),
      apiKey: String(r.api_key),
      account: String(r.account),
      service: String(r.service),
      sku: String(r.sku),
      lineItem: String(r.line_item),
      charge: String(r.charge) as BillLine['charge'],
      pricing: String(r.pricing) as BillLine['pricing'],
      amount: String(r.amount),
      currency: String(r.currency),
      rateToUsd: opt(r.rate_to_usd),
      amountUsd: opt(r.amount_usd),
      quantity: opt(r.quantity),
      unit: String(r.unit),
    }));
  }

  /** The current token usage lines (latest usage export per provider × day) in [from, to). */
  async currentUsageLines(from: string, to: string): Promise<StoredUsageLine[]> {
    const rows = await this.currentRows('bill_usage_lines', 'usage', from, to, 'reading usage lines');
    return rows.map((r) => ({
      importId: String(r.import_id),
      sourceLine: Number(r.source_line),
      provider: String(r.provider),
      day: String(r.day),
      model: String(r.model),
      project: String(r.project),
      apiKey: String(r.api_key),
      tier: String(r.tier),
      inputTokens: Number(r.input_tokens),
      cachedInputTokens: Number(r.cached_input_tokens),
      cacheWriteTokens: Number(r.cache_write_tokens),
      outputTokens: Number(r.output_tokens),
      ...(r.requests === null || r.requests === undefined ? {} : { requests: Number(r.requests) }),
    }));
  }

  /** Per provider, the days in [from, to) a current import of `kind` covers, and which import that is. */
  async currentCoverage(
    from: string,
    to: string,
    kind: ImportKind = 'cost',
  ): Promise<Array<{ provider: string; day: string; import_id: string }>> {
    const rows = await this.rows<{ provider: string; covered_day: string; current_import: string }>(
      `SELECT provider, toString(day) AS covered_day, argMax(import_id, imported_at) AS current_import
       FROM ${this.table('bill_coverage')}
       WHERE day >= toDate({from:String}) AND day < toDate({to:String}) AND kind = {kind:String}
         AND import_id IN (SELECT import_id FROM ${this.table('bill_imports')})
       GROUP BY provider, day
       ORDER BY provider, covered_day`,
      { from, to, kind },
      'reading bill coverage',
    );
    return rows.map((r) => ({ provider: r.provider, day: r.covered_day, import_id: r.current_import }));
  }

  /** Provider × month pairs with a current bill since `from` (for the periodic refresh). */
  async billedMonths(from: string): Promise<Array<{ provider: string; month: string }>> {
    return this.rows<{ provider: string; month: string }>(
      `SELECT DISTINCT provider, toString(toStartOfMonth(day)) AS month
       FROM ${this.table('bill_coverage')} WHERE day >= toDate({from:String}) ORDER BY provider, month`,
      { from },
      'listing billed months',
    );
  }

  /** A reconciliation of provider × month, stored as that month's latest. */
  async saveRun(
    runId: string,
    months: Array<{ provider: string; month: string }>,
    lines: ReconciliationLineRow[],
    at: Date,
    tokenLines: TokenReconciliationRow[] = [],
  ): Promise<void> {
    await this.insert(
      'reconciliation_lines',
      lines.map((l) => ({ run_id: runId, ...l })),
      'writing reconciliation lines',
    );
    await this.insert(
      'reconciliation_token_lines',
      tokenLines.map((l) => ({ run_id: runId, ...l })),
      'writing token reconciliation lines',
    );
    await this.insert(
      'reconciliation_runs',
      months.map((m) => ({
        run_id: runId,
        provider: m.provider,
        month: m.month,
        computed_at: clickhouseTime(at),
      })),
      'writing the reconciliation run',
    );
  }
}

/**
 * Deletes the lines of superseded reconciliation runs on days in [from, to): runs computed before
 * `before` that are not their provider × month's latest. Every refresh and API read stores a new
 * run; the dashboards read only the latest, and without this the tables grow by a month of lines
 * every 15 minutes. Runs of the last hour are kept (a run being written has no record yet).
 */
export async function pruneSupersededRuns(
  storage: Storage,
  from: string,
  to: string,
  before: Date,
): Promise<void> {
  const { client, database, cluster } = storage;
  for (const table of ['reconciliation_lines', 'reconciliation_token_lines']) {
    // A Distributed table takes no DELETE: on a cluster the rows are deleted on every node.
    const target = cluster
      ? `${database}.${table}${LOCAL_SUFFIX} ON CLUSTER '${cluster}'`
      : `${database}.${table}`;
    try {
      await client.command({
        query: `DELETE FROM ${target}
          WHERE day >= toDate({from:String}) AND day < toDate({to:String})
            AND run_id IN (SELECT run_id FROM ${database}.reconciliation_runs
                           WHERE computed_at < {before:DateTime64(3, 'UTC')})
            AND (provider, toStartOfMonth(day), run_id) NOT IN (
              SELECT provider, month, argMax(run_id, computed_at)
              FROM ${database}.reconciliation_runs GROUP BY provider, month)`,
        query_params: { from, to, before: clickhouseTime(before) },
      });
    } catch (cause) {
      throw new StorageError('deleting superseded reconciliation runs', { cause, detail: table });
    }
  }
}

function normaliseImport(r: BillImportRecord): BillImportRecord {
  return {
    ...r,
    rows_read: Number(r.rows_read),
    lines_kept: Number(r.lines_kept),
    rows_skipped: Number(r.rows_skipped),
  };
}
