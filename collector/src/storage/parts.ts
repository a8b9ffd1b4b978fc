/**
 * Parts of tokenledger's tables that the engine set aside: at start it detaches a part it finds
 * broken (`broken-on-start_…`, e.g. files emptied by a full disk), taking its rows out of every read.
 * `detachedParts` lists them with their row counts (the collector logs them and /healthz says
 * degraded); `repairParts` (`tokenledger repair`) attaches back every one the engine accepts, sets
 * aside the active parts that fail CHECK TABLE, and marks the hours of what changed so the rollup
 * is rebuilt. What an unreadable part held is restored from the journal of acknowledged batches as
 * far as it reaches.
 */
import { cpSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Storage } from './client';
import type { StorageError } from './errors';
import { queryRows as rows, runStatement } from './statements';

/** Tables whose rows are data (the rest is rebuilt or re-synced: the rollup, prices, reconciliation runs). */
const DATA_TABLES = [
  'llm_calls',
  'ai_http_calls',
  'audit_log',
  'approvals',
  'outcomes',
  'outcomes_by_time',
  'budget_snapshots',
  'bill_imports',
  'bill_coverage',
  'bill_lines',
  'bill_usage_lines',
  'expense_imports',
  'expense_coverage',
  'expense_lines',
];

export interface DetachedPart {
  table: string;
  name: string;
  reason: string;
  /** From the part's count.txt when the engine's files are local (embedded); null otherwise. */
  rows: number | null;
  partition: string | null;
  path: string;
}

export async function detachedParts(storage: Storage): Promise<DetachedPart[]> {
  const found = await rows<{
    table: string;
    name: string;
    reason: string | null;
    partition_id: string | null;
    path: string;
  }>(
    storage,
    'listing detached parts',
    `SELECT table, name, reason, partition_id, path FROM system.detached_parts
     WHERE database = {db:String} ORDER BY table, name`,
    { db: storage.database },
  );
  return found.map((p) => ({
    table: p.table,
    name: p.name,
    reason: p.reason ?? '',
    partition: p.partition_id,
    path: p.path,
    rows: storage.embedded ? countOf(p.path) : null,
  }));
}

function countOf(partPath: string): number | null {
  try {
    return Number(readFileSync(path.join(partPath, 'count.txt'), 'utf8').trim());
  } catch {
    return null;
  }
}

export const describePart = (p: DetachedPart): string =>
  `${p.table}/${p.name} (${p.rows ?? 'unknown number of'} rows${p.reason ? `, ${p.reason}` : ''})`;

export interface RepairReport {
  attached: DetachedPart[];
  /**
   * Parts the engine would not take back, and why: moved out of its way to `kept` (embedded: under
   * the data directory, for inspection), or left detached (a server's files are not ours to move).
   */
  refused: Array<DetachedPart & { error: string; kept?: string }>;
  /** Active parts that failed CHECK TABLE and were set aside (detached). */
  setAside: Array<{ table: string; name: string; message: string }>;
}

/**
 * Detached parts back in (a prefixed name is renamed first, embedded only: a server's files are
 * not ours to rename), broken active parts out; `markHours` gets the months (YYYYMM) of llm_calls
 * that changed, so their hours are rebuilt.
 */
export async function repairParts(
  storage: Storage,
  markMonths: (months: number[]) => Promise<void>,
  keepDir?: string,
): Promise<RepairReport> {
  const { database } = storage;
  const report: RepairReport = { attached: [], refused: [], setAside: [] };
  const changedMonths = new Set<number>();
  for (const table of DATA_TABLES) {
    const checked = await rows<{ part_path: string; is_passed: number; message: string }>(
      storage,
      `checking ${table}`,
      `CHECK TABLE ${database}.${table} SETTINGS check_query_single_value_result = 0`,
    );
    for (const part of checked.filter((c) => Number(c.is_passed) === 0)) {
      await runStatement(
        storage,
        `setting part ${part.part_path} aside`,
        `ALTER TABLE ${database}.${table} DETACH PART '${partName(part.part_path)}'`,
      );
      report.setAside.push({ table, name: part.part_path, message: part.message });
      if (table === 'llm_calls') changedMonths.add(Number(part.part_path.slice(0, 6)));
    }
  }
  for (const part of await detachedParts(storage)) {
    const bare = part.name.replace(/^[a-z-]+_(?=\d|all)/, '');
    try {
      if (bare !== part.name) {
        if (!storage.embedded) throw new Error('its name has a prefix; rename it on the server to attach it');
        renameSync(part.path, path.join(path.dirname(part.path), bare));
      }
      try {
        await runStatement(
          storage,
          `attaching ${part.table}/${bare}`,
          `ALTER TABLE ${database}.${part.table} ATTACH PART '${partName(bare)}'`,
        );
      } catch (err) {
        // Back to its own name, for whoever looks at it.
        if (bare !== part.name) renameSync(path.join(path.dirname(part.path), bare), part.path);
        throw err;
      }
      report.attached.push(part);
      if (part.table === 'llm_calls' && part.partition) changedMonths.add(Number(part.partition));
    } catch (err) {
      const error = ((err as StorageError).cause as Error | undefined)?.message ?? (err as Error).message;
      report.refused.push({
        ...part,
        error,
        ...(storage.embedded && keepDir
          ? { kept: keepAside(part.path, part.table, part.name, keepDir) }
          : {}),
      });
    }
  }
  await markMonths([...changedMonths].filter((m) => Number.isInteger(m) && m > 0));
  return report;
}

/**
 * Moves an unreadable detached part out of the engine's way (it stays listed as detached otherwise)
 * to `<keepDir>/<table>/<time>_<name>`; returns where it went.
 */
export function keepAside(partPath: string, table: string, name: string, keepDir: string): string {
  const to = path.join(keepDir, table, `${new Date().toISOString().replace(/[:.]/g, '-')}_${name}`);
  mkdirSync(path.dirname(to), { recursive: true, mode: 0o700 });
  try {
    renameSync(partPath, to);
  } catch {
    // Another file system: copy, then remove.
    cpSync(partPath, to, { recursive: true });
    rmSync(partPath, { recursive: true, force: true });
  }
  return to;
}

/** A part name as the engine gives it (ALTER … PART takes no query parameter): checked, never user input. */
export function partName(name: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`unexpected part name "${name}"`);
  return name;
}
