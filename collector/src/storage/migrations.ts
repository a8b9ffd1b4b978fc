/**
 * Versioned migrations from `collector/migrations/NNNN_name.sql`, applied once each, in order.
 * `${DB}` in a file stands for the configured database (a validated identifier, never request input).
 * Every statement is idempotent (IF NOT EXISTS), so a crash between a statement and its record,
 * or two collectors starting at once, only repeats harmless work.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Storage } from './client';
import { StorageError } from './errors';
import { renderForCluster, type ClusterSchema } from './cluster-ddl';
import { PACKAGE_DIR } from '../core/package-dir';

/** Shipped in the package (`files`). */
export const MIGRATIONS_DIR = path.join(PACKAGE_DIR, 'migrations');

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file.replace(/\.sql$/, ''),
      statements: splitStatements(readFileSync(path.join(dir, file), 'utf8')),
    }));
}

/** Splits a file on `;` at line ends; strips `--` comment lines. */
export function splitStatements(sql: string): string[] {
  return sql
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Applies the pending migrations; returns the versions applied now. */
export async function migrate(storage: Storage, migrations = loadMigrations()): Promise<number[]> {
  const { client, database, cluster } = storage;
  // On a cluster every statement is rendered for it; the renderer tracks the tables created so far
  // (applied migrations included), which ALTER and DROP need.
  const tables: ClusterSchema = new Set();
  const render = (sql: string): string[] => (cluster ? renderForCluster(sql, cluster, tables) : [sql]);
  const run = async (query: string, what: string): Promise<void> => {
    for (const statement of render(query)) {
      try {
        await client.command({ query: statement });
      } catch (cause) {
        throw new StorageError(`migration ${what}`, { cause });
      }
    }
  };
  await run(`CREATE DATABASE IF NOT EXISTS ${database}`, 'create database');
  await run(
    `CREATE TABLE IF NOT EXISTS ${database}.schema_migrations
     (version UInt32, name String, applied_at DateTime('UTC') DEFAULT now())
     ENGINE = MergeTree ORDER BY version`,
    'schema_migrations',
  );
  const rs = await client.query({
    query: `SELECT DISTINCT version FROM ${database}.schema_migrations`,
    format: 'JSONEachRow',
  });
  const applied = new Set((await rs.json<{ version: number }>()).map((r) => Number(r.version)));
  const now: number[] = [];
  for (const m of migrations) {
    if (applied.has(m.version)) {
      for (const statement of m.statements) render(statement.replaceAll('${DB}', database));
      continue;
    }
    for (const statement of m.statements) await run(statement.replaceAll('${DB}', database), m.name);
    try {
      await client.insert({
        table: `${database}.schema_migrations`,
        values: [{ version: m.version, name: m.name }],
        format: 'JSONEachRow',
      });
    } catch (cause) {
      throw new StorageError(`recording migration ${m.name}`, { cause });
    }
    now.push(m.version);
  }
  return now;
}
