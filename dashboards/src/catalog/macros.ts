/**
 * Expansion of the Grafana ClickHouse data source's macros (grafana-clickhouse-datasource v4,
 * pkg/macros/macros.go) and of the template variables the catalog uses, two ways:
 * - `expandMacros`: literal values, byte for byte what Grafana sends to ClickHouse;
 * - `toParameterizedQuery`: the same SQL with the time range and variable values as ClickHouse
 *   query parameters (`{name:Type}`), for the collector, which never splices user input into SQL.
 *
 * Template variables the catalog writes: `${name:singlequote}` (always inside `IN (...)`, the form
 * the parameterized rendering turns into an `Array(String)` parameter) and `${database}` (the
 * database holding tokenledger's tables). A multi-select at "All" (an empty list or ['$__all'])
 * expands to the variable's custom all value `'__all__'`, which Grafana inserts unformatted.
 */

export interface MacroContext {
  from: Date;
  to: Date;
  /** Grafana's $__interval in seconds (the plugin floors it to at least 1). */
  intervalSeconds: number;
  /** Template variable values; an empty list or ['$__all'] means All. `database` defaults to tokenledger. */
  variables: Record<string, string[]>;
}

export interface ParameterizedQuery {
  query: string;
  query_params: Record<string, unknown>;
}

/** The multi-select variables' custom all value, as it appears in SQL. */
export const ALL_VALUE = '__all__';
export const ALL_VALUE_SQL = `'${ALL_VALUE}'`;
export const DEFAULT_DATABASE = 'tokenledger';

const MACRO =
  /\$__(timeFilter_ms|timeFilter|fromTime_ms|fromTime|toTime_ms|toTime|interval_s|timeInterval_ms|timeInterval)\b(?:\(([^)]*)\))?/g;
const QUOTED_VARIABLE_IN_PARENS = /\(\s*\$\{(\w+):singlequote\}\s*\)/g;
const VARIABLE = /\$\{(\w+)(?::(\w+))?\}/g;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

const unixSeconds = (d: Date): number => Math.floor(d.getTime() / 1000);
const intervalSeconds = (ctx: MacroContext): number => Math.max(Math.floor(ctx.intervalSeconds), 1);
const intervalMs = (ctx: MacroContext): number => Math.max(Math.floor(ctx.intervalSeconds * 1000), 1);

/** How each macro renders, given how to write a time in seconds / milliseconds and the interval. */
interface MacroWriters {
  seconds(which: 'from' | 'to'): string;
  millis(which: 'from' | 'to'): string;
  intervalS: string;
  intervalMs: string;
}

function expandTimeMacros(sql: string, w: MacroWriters): string {
  return sql.replace(MACRO, (_all, name: string, rawArgs: string | undefined) => {
    const args = (rawArgs ?? '')
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== '');
    const column = (): string => {
      if (args.length !== 1) throw new Error(`$__${name}: expected 1 argument, received ${args.length}`);
      return args[0] as string;
    };
    switch (name) {
      case 'fromTime':
        return w.seconds('from');
      case 'toTime':
        return w.seconds('to');
      case 'fromTime_ms':
        return w.millis('from');
      case 'toTime_ms':
        return w.millis('to');
      case 'timeFilter':
        return `${column()} >= ${w.seconds('from')} AND ${column()} <= ${w.seconds('to')}`;
      case 'timeFilter_ms':
        return `${column()} >= ${w.millis('from')} AND ${column()} <= ${w.millis('to')}`;
      case 'interval_s':
        return w.intervalS;
      case 'timeInterval':
        return `toStartOfInterval(toDateTime(${column()}), INTERVAL ${w.intervalS} second)`;
      default: // timeInterval_ms
        return `toStartOfInterval(toDateTime64(${column()}, 3), INTERVAL ${w.intervalMs} millisecond)`;
    }
  });
}

/** Selected values of a variable, or null for All. */
function selected(ctx: MacroContext, name: string): string[] | null {
  const values = ctx.variables[name] ?? [];
  return values.length === 0 || values.includes('$__all') ? null : values;
}

function databaseName(ctx: MacroContext): string {
  const db = ctx.variables.database?.[0] ?? DEFAULT_DATABASE;
  if (!IDENTIFIER.test(db)) throw new Error(`invalid database "${db}": use letters, digits and _`);
  return db;
}

/** Grafana's `singlequote` format: each value in '...' with ' escaped as \' (and nothing else). */
const singleQuote = (v: string): string => `'${v.replace(/'/g, "\\'")}'`;

/** The SQL Grafana sends for this panel SQL in this context. */
export function expandMacros(sql: string, ctx: MacroContext): string {
  const withVariables = sql.replace(VARIABLE, (_all, name: string, format: string | undefined) => {
    if (name === 'database') return databaseName(ctx);
    const values = selected(ctx, name);
    if (format === 'singlequote') return values === null ? ALL_VALUE_SQL : values.map(singleQuote).join(',');
    if (format !== undefined) throw new Error(`unsupported variable format \${${name}:${format}}`);
    return values === null ? ALL_VALUE : values.join(',');
  });
  return expandTimeMacros(withVariables, {
    seconds: (which) => `toDateTime(${unixSeconds(which === 'from' ? ctx.from : ctx.to)})`,
    millis: (which) => `fromUnixTimestamp64Milli(${(which === 'from' ? ctx.from : ctx.to).getTime()})`,
    intervalS: String(intervalSeconds(ctx)),
    intervalMs: String(intervalMs(ctx)),
  });
}

/** The same query with every value a ClickHouse query parameter. */
export function toParameterizedQuery(sql: string, ctx: MacroContext): ParameterizedQuery {
  const params: Record<string, unknown> = {};
  const arrayParam = (name: string): string => {
    params[`var_${name}`] = selected(ctx, name) ?? [ALL_VALUE];
    return `{var_${name}:Array(String)}`;
  };
  const withLists = sql.replace(QUOTED_VARIABLE_IN_PARENS, (_all, name: string) => arrayParam(name));
  const withVariables = withLists.replace(VARIABLE, (_all, name: string, format: string | undefined) => {
    if (name === 'database') {
      params.database = databaseName(ctx);
      return '{database:Identifier}';
    }
    if (format !== undefined)
      throw new Error(`\${${name}:${format}} must appear as IN (\${${name}:${format}})`);
    const values = selected(ctx, name);
    params[`var_${name}`] = values === null ? ALL_VALUE : values.join(',');
    return `{var_${name}:String}`;
  });
  const query = expandTimeMacros(withVariables, {
    seconds: (which) => {
      params[`tl_${which}`] = unixSeconds(which === 'from' ? ctx.from : ctx.to);
      return `toDateTime({tl_${which}:Int64})`;
    },
    millis: (which) => {
      params[`tl_${which}_ms`] = (which === 'from' ? ctx.from : ctx.to).getTime();
      return `fromUnixTimestamp64Milli({tl_${which}_ms:Int64})`;
    },
    get intervalS() {
      params.tl_interval_s = intervalSeconds(ctx);
      return '{tl_interval_s:UInt32}';
    },
    get intervalMs() {
      params.tl_interval_ms = intervalMs(ctx);
      return '{tl_interval_ms:UInt32}';
    },
  });
  return { query, query_params: params };
}
