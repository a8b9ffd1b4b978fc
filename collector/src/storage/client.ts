/**
 * The one way the collector reaches ClickHouse: `@clickhouse/client`, either over HTTP to a server
 * (`CLICKHOUSE_URL`) or in-process on the embedded engine (chdb) under the data directory.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';

export interface StorageTarget {
  /** `http(s)://user:pass@host:8123/db`; unset means embedded. */
  clickhouseUrl?: string;
  /** Data directory; the embedded engine lives in `<dataDir>/clickhouse`. */
  dataDir: string;
  /** A cluster on that server: the schema is created on it (storage/cluster-ddl.ts). */
  cluster?: string;
}

export interface Storage {
  client: ClickHouseClient;
  /** Database holding tokenledger's tables (validated identifier). */
  database: string;
  embedded: boolean;
  /** The ClickHouse cluster the schema lives on (tables are Distributed over `<name>_local`). */
  cluster?: string;
  /**
   * Embedded only: `listener` sees every error the engine answers a statement with (a read of a
   * broken part is repaired from it, storage/part-repair.ts). A server's parts are not ours to move.
   */
  onEngineError?: (listener: (err: unknown) => void) => void;
  close(): Promise<void>;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const DEFAULT_DATABASE = 'tokenledger';

export function assertIdentifier(name: string, what: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`invalid ${what} "${name}": use letters, digits and _`);
  return name;
}

export function openStorage(target: StorageTarget, database?: string): Storage {
  if (target.clickhouseUrl) {
    const url = new URL(target.clickhouseUrl);
    const db = database ?? (url.pathname.replace(/^\/+|\/+$/g, '') || DEFAULT_DATABASE);
    const username = decodeURIComponent(url.username) || 'default';
    const password = decodeURIComponent(url.password);
    // Credentials go as options only (in the URL too, the client warns on every start).
    url.pathname = '/';
    url.username = '';
    url.password = '';
    const client = createClient({
      url: url.toString(),
      username,
      password,
      request_timeout: 30_000,
      // On a cluster an insert into a Distributed table is acknowledged only once the shards hold
      // it, as the writer's at-least-once delivery needs (the default queues it on the node).
      ...(target.cluster ? { clickhouse_settings: { insert_distributed_sync: 1 } } : {}),
      // Failures surface as StorageError with context, logged once by the caller; no second logger.
      log: { level: ClickHouseLogLevel.OFF },
    });
    return {
      client,
      database: assertIdentifier(db, 'database'),
      embedded: false,
      ...(target.cluster ? { cluster: target.cluster } : {}),
      close: () => client.close(),
    };
  }
  const { createChdbConnection, drainPending } = loadEmbeddedEngine();
  const dir = path.resolve(target.dataDir, 'clickhouse');
  mkdirSync(dir, { recursive: true });
  const client = createClient({ connection: createChdbConnection({ path: dir }) } as Parameters<
    typeof createClient
  >[0]);
  const listeners: Array<(err: unknown) => void> = [];
  reportFailures(client, (err) => listeners.forEach((listen) => listen(err)));
  return {
    client,
    database: assertIdentifier(database ?? DEFAULT_DATABASE, 'database'),
    embedded: true,
    onEngineError: (listener) => listeners.push(listener),
    // close() returns before the engine is done with an operation still running (e.g. a health
    // check that outlived its bound); exiting the process under one can crash it: wait for them.
    close: async () => {
      await client.close();
      await drainPending();
    },
  };
}

/** Every statement's failure goes to `report` too, then on to its caller unchanged. */
function reportFailures(client: ClickHouseClient, report: (err: unknown) => void): void {
  for (const method of ['query', 'command', 'insert', 'exec'] as const) {
    const call = client[method].bind(client) as (params: unknown) => Promise<unknown>;
    (client as unknown as Record<typeof method, (params: unknown) => Promise<unknown>>)[method] = (params) =>
      call(params).catch((err: unknown) => {
        report(err);
        throw err;
      });
  }
}

/**
 * The embedded engine, loaded lazily: it is only needed (and only loadable once per process) when
 * embedded, and it is an optional dependency that a ClickHouse-server deployment leaves out
 * (`npm install --omit=optional`, the server image), so its absence must say what to do.
 */
function loadEmbeddedEngine(): Pick<typeof import('chdb/connection'), 'createChdbConnection'> &
  Pick<typeof import('chdb'), 'drainPending'> {
  try {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { createChdbConnection } = require('chdb/connection') as typeof import('chdb/connection');
    const { drainPending } = require('chdb') as typeof import('chdb');
    /* eslint-enable @typescript-eslint/no-require-imports */
    return { createChdbConnection, drainPending };
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw cause;
    throw new EmbeddedEngineMissingError({ cause });
  }
}

class EmbeddedEngineMissingError extends Error {
  constructor(options: { cause: unknown }) {
    super(
      'the embedded ClickHouse engine (the optional package chdb) is not installed: ' +
        'install it (npm install chdb) or set CLICKHOUSE_URL to a ClickHouse server',
      options,
    );
    this.name = 'EmbeddedEngineMissingError';
  }
}
