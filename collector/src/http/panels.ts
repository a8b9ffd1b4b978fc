/**
 * The panel data API behind the built-in report page: the same catalog and SQL as the Grafana
 * dashboards, run on the collector's storage.
 *
 *   GET /v1/panels                                   → the catalog (no SQL)
 *   GET /v1/panels/:dashboardUid/variables/:name     → a template variable's values
 *   GET /v1/panels/:dashboardUid/:panelId            → { columns: [{name, type}], rows: [[...]] }
 *
 * Time range: `period` (current_month, last_month, last_7d, last_30d, YYYY-MM) or `from`+`to`
 * (ISO 8601, `to` exclusive), ending no later than now (the answer's `to`, inclusive, says where); template variables by name, repeatable (`team=a&team=b`; none or
 * `$__all` = All). Values reach ClickHouse only as query parameters (toParameterizedQuery), never
 * spliced into SQL. Decimals come back as exact strings, 64-bit integers as strings, DateTimes as
 * ISO 8601 UTC.
 */
import { Router, type Request, type Response } from 'express';
import {
  columnLabel,
  DASHBOARDS,
  toParameterizedQuery,
  VALUE_LABELS,
  type DashboardDef,
  type MacroContext,
  type PanelDef,
} from '@tokenledger/dashboards';
import { requireScope } from './auth';
import type { KeyRing } from '../govern/keys/keys';
import { PeriodError, resolvePeriod, type PeriodRange } from '../read/period';
import type { Storage } from '../storage/client';
import { StorageError } from '../storage/errors';

const TIME_PARAMS = ['period', 'from', 'to'] as const;
/** `${database}` in the catalog's SQL: always the collector's own database, never a request's. */
const DATABASE_VARIABLE = 'database';
/** Bounded: a heavy panel must not tie up the collector. */
const QUERY_TIMEOUT_SECONDS = 30;
const MAX_ROWS = 10_000;

interface PanelColumn {
  name: string;
  type: string;
  /** What a reader calls it. */
  label: string;
  /** Words for the codes the column holds, when it holds codes. */
  values?: Record<string, string>;
}

export interface PanelData {
  dashboard: string;
  panel: string;
  from: string;
  to: string;
  intervalSeconds: number;
  columns: PanelColumn[];
  rows: unknown[][];
}

class PanelQueryError extends Error {
  constructor(
    readonly status: 400 | 404,
    message: string,
  ) {
    super(message);
    this.name = 'PanelQueryError';
  }
}

/** The catalog as the page needs it: everything but the SQL. */
function panelCatalog(dashboards: readonly DashboardDef[] = DASHBOARDS) {
  return {
    dashboards: dashboards.map((d) => ({
      uid: d.uid,
      title: d.title,
      description: d.description,
      timeFrom: d.timeFrom,
      timeTo: d.timeTo,
      variables: d.variables
        .filter((v) => v.name !== DATABASE_VARIABLE)
        .map((v) => ({ name: v.name, label: v.label, multi: v.multi })),
      panels: d.panels.map((p) => ({
        id: p.id,
        title: p.title,
        question: p.question,
        visualization: p.visualization,
        format: p.format,
        unit: p.unit,
        width: p.width ?? 12,
        height: p.height ?? 8,
        grafanaId: p.gridId,
      })),
    })),
  };
}

/**
 * Bucket size for $__interval_s: hourly up to three days (the rollup's grain), daily beyond, so a
 * month is ~30 points as a finance reader expects.
 */
function intervalSecondsFor(range: PeriodRange): number {
  const span = range.to.getTime() - range.from.getTime();
  return span <= 3 * 86_400_000 ? 3_600 : 86_400;
}

export function panelsRouter(
  keys: KeyRing,
  storage: Storage,
  dashboards: readonly DashboardDef[] = DASHBOARDS,
) {
  const router = Router();
  const read = requireScope(keys, 'read');

  router.get('/v1/panels', read, (_req, res) => {
    res.json(panelCatalog(dashboards));
  });

  router.get('/v1/panels/:dashboardUid/variables/:name', read, (req, res) =>
    answer(res, async () => {
      const dashboard = findDashboard(dashboards, String(req.params.dashboardUid));
      const variable = dashboard.variables.find((v) => v.name === req.params.name);
      if (!variable)
        throw new PanelQueryError(404, `dashboard ${dashboard.uid} has no variable "${req.params.name}"`);
      const { range, ctx } = contextFrom(req, storage, dashboard, { allowVariables: false });
      const data = await runQuery(storage, variable.sql, ctx, `variable ${dashboard.uid}/${variable.name}`);
      return {
        dashboard: dashboard.uid,
        variable: variable.name,
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        values: firstColumnValues(data.rows),
      };
    }),
  );

  router.get('/v1/panels/:dashboardUid/:panelId', read, (req, res) =>
    answer(res, async (): Promise<PanelData> => {
      const dashboard = findDashboard(dashboards, String(req.params.dashboardUid));
      const panel = findPanel(dashboard, String(req.params.panelId));
      const { range, ctx } = contextFrom(req, storage, dashboard, { allowVariables: true });
      const data = await runQuery(storage, panel.sql, ctx, `panel ${dashboard.uid}/${panel.id}`);
      data.columns = data.columns.map((c) => ({
        ...c,
        label: columnLabel(panel, c.name) ?? c.name,
        ...(VALUE_LABELS[c.name] ? { values: { ...VALUE_LABELS[c.name] } } : {}),
      }));
      return {
        dashboard: dashboard.uid,
        panel: panel.id,
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        intervalSeconds: ctx.intervalSeconds,
        ...data,
      };
    }),
  );

  return router;
}

async function answer(res: Response, produce: () => Promise<unknown>): Promise<void> {
  try {
    res.json(await produce());
  } catch (err) {
    if (err instanceof PanelQueryError) {
      res.status(err.status).json({ error: err.message });
      return;
    }
    if (err instanceof PeriodError) {
      res.status(400).json({ error: err.message });
      return;
    }
    // StorageError and the rest: the app's error handler answers 503 / 500.
    throw err;
  }
}

function findDashboard(dashboards: readonly DashboardDef[], uid: string): DashboardDef {
  const dashboard = dashboards.find((d) => d.uid === uid);
  if (!dashboard)
    throw new PanelQueryError(
      404,
      `unknown dashboard "${uid}": use one of ${dashboards.map((d) => d.uid).join(', ')}`,
    );
  return dashboard;
}

function findPanel(dashboard: DashboardDef, id: string): PanelDef {
  const panel = dashboard.panels.find((p) => p.id === id);
  if (!panel) throw new PanelQueryError(404, `dashboard ${dashboard.uid} has no panel "${id}"`);
  return panel;
}

/** Query string → time range + macro context; anything not a time parameter or variable is a 400. */
function contextFrom(
  req: Request,
  storage: Storage,
  dashboard: DashboardDef,
  opts: { allowVariables: boolean },
): { range: PeriodRange; ctx: MacroContext } {
  const query = req.query as Record<string, unknown>;
  const time: Partial<Record<(typeof TIME_PARAMS)[number], string>> = {};
  const variables: Record<string, string[]> = {};
  for (const v of dashboard.variables) if (v.name !== DATABASE_VARIABLE) variables[v.name] = [];
  for (const [name, value] of Object.entries(query)) {
    if ((TIME_PARAMS as readonly string[]).includes(name)) {
      if (typeof value !== 'string') throw new PanelQueryError(400, `${name} must be given once`);
      time[name as (typeof TIME_PARAMS)[number]] = value;
      continue;
    }
    if (!opts.allowVariables || !(name in variables)) {
      const known = [...TIME_PARAMS, ...(opts.allowVariables ? Object.keys(variables) : [])];
      throw new PanelQueryError(400, `unknown parameter "${name}": use ${known.join(', ')}`);
    }
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (typeof v !== 'string') throw new PanelQueryError(400, `variable ${name} must be a string`);
      variables[name]!.push(v);
    }
  }
  const now = new Date();
  const period = resolvePeriod(time, now);
  // Grafana's time filter is inclusive (`<= $__toTime`, whole seconds): end one second before the
  // exclusive end, and no later than now, as the dashboards' own ranges (now/M .. now) do, so
  // month-to-date projections divide by the time elapsed.
  const range = { ...period, to: new Date(Math.min(period.to.getTime() - 1000, now.getTime())) };
  if (range.to <= range.from)
    throw new PanelQueryError(400, `the range starting ${range.from.toISOString()} has not begun`);
  // The tables live in the collector's database, whatever a request says.
  variables[DATABASE_VARIABLE] = [storage.database];
  return {
    range,
    ctx: { from: range.from, to: range.to, intervalSeconds: intervalSecondsFor(range), variables },
  };
}

interface QueryResult {
  columns: PanelColumn[];
  rows: unknown[][];
}

async function runQuery(
  storage: Storage,
  sql: string,
  ctx: MacroContext,
  what: string,
): Promise<QueryResult> {
  const { query, query_params } = toParameterizedQuery(sql, ctx);
  try {
    const rs = await storage.client.query({
      query,
      query_params,
      format: 'JSONCompact',
      clickhouse_settings: {
        // Money stays exact: Decimals as strings, never through a float.
        output_format_json_quote_decimals: 1,
        output_format_json_quote_64bit_integers: 1,
        date_time_output_format: 'iso',
        max_execution_time: QUERY_TIMEOUT_SECONDS,
        max_result_rows: String(MAX_ROWS),
        result_overflow_mode: 'break',
      },
    });
    // JSONCompact: one document with the column names and types, then the rows as arrays.
    const body = (await rs.json()) as unknown as { meta: PanelColumn[]; data: unknown[][] };
    return { columns: body.meta.map(({ name, type }) => ({ name, type, label: name })), rows: body.data };
  } catch (cause) {
    throw new StorageError(what, { cause });
  }
}

/** A variable's options: its first column, as strings, without empties or repeats. */
function firstColumnValues(rows: unknown[][]): string[] {
  const values = new Set<string>();
  for (const row of rows) {
    const v = row[0];
    if (v !== null && v !== undefined && String(v) !== '') values.add(String(v));
  }
  return [...values];
}
