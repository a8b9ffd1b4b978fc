/**
 * Cluster mode (`TOKENLEDGER_CLICKHOUSE_CLUSTER=<name>`): the migrations, written for one server,
 * rendered for a ClickHouse cluster (decision 0067). Every query the collector runs stays the same:
 *
 * - a table `db.t` becomes `db.t_local` on every node (`ON CLUSTER`, the Replicated variant of its
 *   engine, one replica path per shard and table) and `db.t` a Distributed table over it, sharded
 *   by a hash of the table's sorting key — rows that ReplacingMergeTree (or FINAL) must collapse
 *   have the same sorting key, so they land on the same shard and still collapse;
 * - views are created on every node and read the Distributed tables; a materialized view reads and
 *   writes the local tables (it sees the inserts each node receives);
 * - ALTER, DROP and the setting `non_replicated_deduplication_window` (its replicated counterpart)
 *   follow; an INSERT … SELECT backfill runs once, through the Distributed tables.
 *
 * The statements are matched on their shape; one this renderer does not know is an error (a new
 * migration must say how it runs on a cluster), never passed through unchanged.
 */

export class ClusterDdlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterDdlError';
  }
}

/** Suffix of the per-node table behind each Distributed table. */
export const LOCAL_SUFFIX = '_local';

const CLUSTER_NAME = /^[A-Za-z0-9_.-]+$/;

export function assertClusterName(name: string): string {
  if (!CLUSTER_NAME.test(name)) {
    throw new ClusterDdlError(`invalid cluster name "${name}": use letters, digits, '_', '.' and '-'`);
  }
  return name;
}

/** Tables (MergeTree family) created so far, by `db.name`: ALTER and DROP need to know. */
export type ClusterSchema = Set<string>;

const ident = String.raw`[A-Za-z_][A-Za-z0-9_]*`;
const qualified = String.raw`(${ident})\.(${ident})`;

/** The statements that do on `cluster` what `statement` does on one server. */
export function renderForCluster(statement: string, cluster: string, tables: ClusterSchema): string[] {
  const on = `ON CLUSTER '${assertClusterName(cluster)}'`;
  const sql = statement.trim();
  let m: RegExpExecArray | null;

  if ((m = new RegExp(String.raw`^CREATE DATABASE (IF NOT EXISTS )?(${ident})\s*$`, 'i').exec(sql))) {
    return [`CREATE DATABASE ${m[1] ?? ''}${m[2]} ${on}`];
  }

  if ((m = new RegExp(String.raw`^CREATE TABLE (IF NOT EXISTS )?${qualified}\s*\(`, 'i').exec(sql))) {
    const [, ifNotExists = '', db, name] = m;
    return createTable(sql, m[0].length - 1, db!, name!, ifNotExists, cluster, on, tables);
  }

  if (
    (m = new RegExp(
      String.raw`^CREATE MATERIALIZED VIEW (IF NOT EXISTS )?${qualified} TO ${qualified} AS\b`,
      'i',
    ).exec(sql))
  ) {
    const [head, ifNotExists = '', db, name, toDb, to] = m;
    const select = localReferences(sql.slice(head.length), tables);
    return [
      `CREATE MATERIALIZED VIEW ${ifNotExists}${db}.${name} ${on} TO ${toDb}.${to}${LOCAL_SUFFIX} AS${select}`,
    ];
  }

  if (
    (m = new RegExp(String.raw`^CREATE (OR REPLACE )?VIEW (IF NOT EXISTS )?${qualified} AS\b`, 'i').exec(sql))
  ) {
    const [head, orReplace = '', ifNotExists = '', db, name] = m;
    return [`CREATE ${orReplace}VIEW ${ifNotExists}${db}.${name} ${on} AS${sql.slice(head.length)}`];
  }

  if ((m = new RegExp(String.raw`^ALTER TABLE ${qualified}\s+`, 'i').exec(sql))) {
    const [head, db, name] = m;
    const key = `${db}.${name}`;
    if (!tables.has(key))
      throw new ClusterDdlError(`ALTER TABLE ${key}: not a table created by the migrations`);
    const action = replicatedSettings(sql.slice(head.length));
    const local = `ALTER TABLE ${db}.${name}${LOCAL_SUFFIX} ${on} ${action}`;
    // The Distributed table carries the columns too (it is `AS` the local one); settings are the
    // local engine's.
    return /^(ADD|DROP|MODIFY|RENAME|COMMENT) COLUMN\b/i.test(action)
      ? [local, `ALTER TABLE ${db}.${name} ${on} ${action}`]
      : [local];
  }

  if ((m = new RegExp(String.raw`^DROP (TABLE|VIEW) (IF EXISTS )?${qualified}\s*$`, 'i').exec(sql))) {
    const [, kind, ifExists = '', db, name] = m;
    const key = `${db}.${name}`;
    if (!tables.has(key)) return [`DROP ${kind} ${ifExists}${key} ${on} SYNC`];
    tables.delete(key);
    return [
      `DROP TABLE ${ifExists}${key} ${on} SYNC`,
      `DROP TABLE ${ifExists}${key}${LOCAL_SUFFIX} ${on} SYNC`,
    ];
  }

  if (/^INSERT INTO\b/i.test(sql)) return [sql];

  throw new ClusterDdlError(`no cluster rendering for: ${sql.split('\n')[0]!.slice(0, 120)}`);
}

function createTable(
  sql: string,
  openParen: number,
  db: string,
  name: string,
  ifNotExists: string,
  cluster: string,
  on: string,
  tables: ClusterSchema,
): string[] {
  const closeParen = matchingParen(sql, openParen);
  const columns = sql.slice(openParen, closeParen + 1);
  const rest = sql.slice(closeParen + 1);
  const engine = /^\s*ENGINE\s*=\s*(\w*MergeTree)(\s*\(([^)]*)\))?/i.exec(rest);
  if (!engine) throw new ClusterDdlError(`CREATE TABLE ${db}.${name}: not a MergeTree-family table`);
  const [engineText, engineName, , engineArgs = ''] = engine;
  if (/^Replicated/i.test(engineName!)) {
    throw new ClusterDdlError(`CREATE TABLE ${db}.${name}: already replicated`);
  }
  const local = `${name}${LOCAL_SUFFIX}`;
  const path = `'/clickhouse/tables/{shard}/${db}/${local}'`;
  const args = [path, `'{replica}'`, ...(engineArgs.trim() ? [engineArgs.trim()] : [])].join(', ');
  const tail = replicatedSettings(rest.slice(engineText.length));
  const orderBy = sortingKey(tail);
  if (orderBy === undefined) throw new ClusterDdlError(`CREATE TABLE ${db}.${name}: no ORDER BY`);
  tables.add(`${db}.${name}`);
  return [
    `CREATE TABLE ${ifNotExists}${db}.${local} ${on} ${columns} ENGINE = Replicated${engineName}(${args})${tail}`,
    `CREATE TABLE ${ifNotExists}${db}.${name} ${on} AS ${db}.${local} ` +
      `ENGINE = Distributed('${cluster}', ${db}, ${local}, ${shardingKey(orderBy)})`,
  ];
}

/** The index of the parenthesis closing the one at `open` (quotes respected). */
function matchingParen(sql: string, open: number): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = open; i < sql.length; i++) {
    const c = sql[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '`' || c === '"') quote = c;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  throw new ClusterDdlError('unbalanced parentheses');
}

/** The ORDER BY expression of a table's tail (`PARTITION BY … ORDER BY … SETTINGS …`). */
function sortingKey(tail: string): string | undefined {
  const at = /\bORDER BY\s+/i.exec(tail);
  if (!at) return undefined;
  const start = at.index + at[0].length;
  if (tail[start] === '(') return tail.slice(start + 1, matchingParen(tail, start)).trim();
  const end = /\s(PARTITION BY|PRIMARY KEY|SAMPLE BY|TTL|SETTINGS)\b|$/i.exec(tail.slice(start))!;
  return tail.slice(start, start + end.index).trim();
}

/** Rows with the same sorting key go to the same shard, so they still collapse there. */
const shardingKey = (orderBy: string): string =>
  orderBy === 'tuple()' ? 'rand()' : `cityHash64(${orderBy})`;

/** A replicated table's deduplication window is `replicated_deduplication_window`. */
const replicatedSettings = (sql: string): string =>
  sql.replace(/\bnon_replicated_deduplication_window\b/g, 'replicated_deduplication_window');

/** `db.t` → `db.t_local` for every table created so far (a materialized view reads local inserts). */
function localReferences(select: string, tables: ClusterSchema): string {
  return select.replace(new RegExp(qualified, 'g'), (ref: string) =>
    tables.has(ref) ? `${ref}${LOCAL_SUFFIX}` : ref,
  );
}
