/**
 * Collector configuration from the environment, validated with clear messages.
 *
 * HOST defaults to 127.0.0.1, as the OpenTelemetry Collector's OTLP receiver does: a fresh
 * `npm start` is not reachable from the network (with first-run keys on disk) until someone
 * decides so with HOST=0.0.0.0 (as a container must).
 */
import { assertClusterName } from '../storage/cluster-ddl';
import { isIP } from 'node:net';
import path from 'node:path';
import { KeyConfigError, parseKeySpec, type KeySpec } from '../govern/keys/keys';
import { assertIdentifier, DEFAULT_DATABASE } from '../storage/client';
import { DEFAULT_MAX_VALUE_LENGTH } from '../ingest/value-cap';

export interface CollectorConfig {
  port: number;
  host: string;
  dataDir: string;
  clickhouseUrl?: string;
  /** ClickHouse cluster the schema is created on (TOKENLEDGER_CLICKHOUSE_CLUSTER; a server only). */
  clickhouseCluster?: string;
  /** Keys from TOKENLEDGER_API_KEYS; unset means first-run keys in <dataDir>/credentials.json. */
  apiKeys?: KeySpec[];
  policyFile: string;
  /** TOKENLEDGER_POLICY_FILE was set: the file must exist (the default path may be absent). */
  policyFileRequired: boolean;
  /** How often the policy file is checked for changes (ms); 0 turns hot reload off. */
  policyPollMs: number;
  /** How often budgets are checked for alert thresholds (ms). */
  alertCheckMs: number;
  /** How often the budget burn-down the dashboards read is recomputed (ms). */
  budgetRefreshMs: number;
  /** How often the calls are looked at for a feature's new service.version (ms). */
  releaseCheckMs: number;
  /** How often the stored reconciliation of imported bills is recomputed (ms); 0 turns it off. */
  reconcileMs: number;
  /** SMTP server for e-mail alerts (TOKENLEDGER_SMTP_URL); unset: no e-mail. */
  smtpUrl?: string;
  /** Sender of e-mail alerts (TOKENLEDGER_ALERT_FROM). */
  alertFrom: string;
  /** Largest accepted OTLP body, bytes (after inflation). */
  maxBodyBytes: number;
  /** Calls waiting to be written above which OTLP requests get 429 (TOKENLEDGER_MAX_QUEUED_CALLS). */
  maxQueuedCalls?: number;
  /** Disk space kept free: below it new spans get 503 (TOKENLEDGER_MIN_FREE_DISK_MB; default by disk size). */
  minFreeDiskBytes?: number;
  /** Memory for OTLP requests in flight, bytes (TOKENLEDGER_MAX_INGEST_BYTES; default 48 MiB). */
  maxIngestBytes?: number;
  /**
   * Bytes OTLP requests release between two garbage collections the collector starts itself
   * (TOKENLEDGER_GC_AFTER_BYTES; default 16 MiB; 0 leaves it to V8). Decision 0119.
   */
  gcAfterBytes?: number;
  /** Longest text value stored from spans, characters (TOKENLEDGER_MAX_ATTRIBUTE_LENGTH; default 256). */
  maxValueLength: number;
  /** How long a budget lease holds without renewal (TOKENLEDGER_LEASE_TTL_MS; default 2 minutes). */
  leaseTtlMs: number;
  /**
   * Where the other collectors of a shared store reach this one (TOKENLEDGER_ADVERTISE_URL); unset:
   * this machine's first non-loopback IPv4 address (or HOST) and the port it listens on.
   */
  advertiseUrl?: string;
  /**
   * Drop the start-up code pages of the engine and of Node from residence once listening and every
   * 5 minutes (TOKENLEDGER_DROP_CODE_PAGES; default on; `0` turns it off). Decision 0097.
   */
  dropCodePages?: boolean;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
export const DEFAULT_GC_AFTER_BYTES = 16 * 1024 * 1024;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): CollectorConfig {
  const portText = env.PORT?.trim() || '4318';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535)
    throw new ConfigError(`PORT must be 0-65535 (0: any free port), got "${env.PORT}"`);

  const host = env.HOST?.trim() || '127.0.0.1';
  if (host !== 'localhost' && isIP(host) === 0)
    throw new ConfigError(`HOST must be an IP address or localhost (e.g. 0.0.0.0 for all), got "${host}"`);

  const clickhouseUrl = env.CLICKHOUSE_URL?.trim() || undefined;
  if (clickhouseUrl) {
    let url: URL;
    try {
      url = new URL(clickhouseUrl);
    } catch {
      // Not the URL itself: it may hold a password.
      throw new ConfigError('CLICKHOUSE_URL is not a URL (expected http://user:pass@host:8123/db)');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new ConfigError('CLICKHOUSE_URL must be http(s)://user:pass@host:8123/db');
    const db = url.pathname.replace(/^\/+|\/+$/g, '') || DEFAULT_DATABASE;
    try {
      assertIdentifier(db, 'database');
    } catch {
      throw new ConfigError(`CLICKHOUSE_URL database "${db}" must be letters, digits and _`);
    }
  }

  const clickhouseCluster = env.TOKENLEDGER_CLICKHOUSE_CLUSTER?.trim() || undefined;
  if (clickhouseCluster) {
    if (!clickhouseUrl)
      throw new ConfigError(
        'TOKENLEDGER_CLICKHOUSE_CLUSTER needs CLICKHOUSE_URL (a cluster is a ClickHouse server)',
      );
    try {
      assertClusterName(clickhouseCluster);
    } catch (err) {
      throw new ConfigError(`TOKENLEDGER_CLICKHOUSE_CLUSTER: ${(err as Error).message}`);
    }
  }

  let apiKeys: CollectorConfig['apiKeys'];
  const keySpec = env.TOKENLEDGER_API_KEYS?.trim();
  if (keySpec) {
    try {
      apiKeys = parseKeySpec(keySpec);
    } catch (err) {
      throw new ConfigError((err as KeyConfigError).message);
    }
    if (apiKeys.length === 0) throw new ConfigError('TOKENLEDGER_API_KEYS has no role:key entries');
  }

  let maxBodyBytes = DEFAULT_MAX_BODY_BYTES;
  if (env.TOKENLEDGER_MAX_BODY_BYTES?.trim()) {
    maxBodyBytes = Number(env.TOKENLEDGER_MAX_BODY_BYTES.trim());
    if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1024)
      throw new ConfigError(
        `TOKENLEDGER_MAX_BODY_BYTES must be an integer >= 1024, got "${env.TOKENLEDGER_MAX_BODY_BYTES}"`,
      );
  }

  const maxIngestBytes = wholeNumber(
    env,
    'TOKENLEDGER_MAX_INGEST_BYTES',
    maxBodyBytes,
    `${maxBodyBytes} (TOKENLEDGER_MAX_BODY_BYTES)`,
  );
  const gcAfterBytes = wholeNumber(env, 'TOKENLEDGER_GC_AFTER_BYTES', 0, '0') ?? DEFAULT_GC_AFTER_BYTES;
  const maxValueLength = maxValueLengthFrom(env);

  const policyPollMs = intervalMs(env, 'TOKENLEDGER_POLICY_POLL_MS', 1000, 0);
  const alertCheckMs = intervalMs(env, 'TOKENLEDGER_ALERT_CHECK_MS', 10_000, 100);
  const budgetRefreshMs = intervalMs(env, 'TOKENLEDGER_BUDGET_REFRESH_MS', 60_000, 1000);
  const releaseCheckMs = intervalMs(env, 'TOKENLEDGER_RELEASE_CHECK_MS', 300_000, 1000);
  const reconcileMs = intervalMs(env, 'TOKENLEDGER_RECONCILE_MS', 900_000, 0);
  const leaseTtlMs = intervalMs(env, 'TOKENLEDGER_LEASE_TTL_MS', 120_000, 5_000);
  const advertiseUrl = env.TOKENLEDGER_ADVERTISE_URL?.trim() || undefined;
  if (advertiseUrl && !/^https?:\/\/[^/\s]+\/?$/.test(advertiseUrl))
    throw new ConfigError(
      `TOKENLEDGER_ADVERTISE_URL must be http(s)://host:port, how the other collectors reach this one; got "${advertiseUrl}"`,
    );
  const dropCodePagesText = env.TOKENLEDGER_DROP_CODE_PAGES?.trim() || '1';
  if (dropCodePagesText !== '0' && dropCodePagesText !== '1')
    throw new ConfigError(`TOKENLEDGER_DROP_CODE_PAGES must be 1 or 0, got "${dropCodePagesText}"`);
  const smtpUrl = env.TOKENLEDGER_SMTP_URL?.trim() || undefined;
  if (smtpUrl && !/^smtps?:\/\//.test(smtpUrl))
    throw new ConfigError('TOKENLEDGER_SMTP_URL must be smtp://[user:pass@]host:port or smtps://…');

  return {
    port,
    host,
    dataDir: path.resolve(env.TOKENLEDGER_DATA_DIR?.trim() || '.tokenledger'),
    clickhouseUrl,
    ...(clickhouseCluster ? { clickhouseCluster } : {}),
    apiKeys,
    policyFile: path.resolve(env.TOKENLEDGER_POLICY_FILE?.trim() || 'tokenledger.policy.yaml'),
    policyFileRequired: Boolean(env.TOKENLEDGER_POLICY_FILE?.trim()),
    policyPollMs,
    alertCheckMs,
    budgetRefreshMs,
    releaseCheckMs,
    reconcileMs,
    smtpUrl,
    alertFrom: env.TOKENLEDGER_ALERT_FROM?.trim() || 'tokenledger@localhost',
    maxBodyBytes,
    ...queueLimit(env),
    ...diskReserve(env),
    ...(maxIngestBytes !== undefined ? { maxIngestBytes } : {}),
    gcAfterBytes,
    maxValueLength,
    leaseTtlMs,
    ...(advertiseUrl ? { advertiseUrl: advertiseUrl.replace(/\/$/, '') } : {}),
    dropCodePages: dropCodePagesText === '1',
  };
}

function diskReserve(env: NodeJS.ProcessEnv): { minFreeDiskBytes?: number } {
  const text = env.TOKENLEDGER_MIN_FREE_DISK_MB?.trim();
  if (!text) return {};
  const mb = Number(text);
  if (!Number.isInteger(mb) || mb < 1)
    throw new ConfigError(`TOKENLEDGER_MIN_FREE_DISK_MB must be a whole number >= 1 (MiB), got "${text}"`);
  return { minFreeDiskBytes: mb * 1024 * 1024 };
}

/** TOKENLEDGER_MAX_ATTRIBUTE_LENGTH: the longest text value stored from spans (also what policy checks use). */
export function maxValueLengthFrom(env: NodeJS.ProcessEnv = process.env): number {
  return (
    wholeNumber(env, 'TOKENLEDGER_MAX_ATTRIBUTE_LENGTH', 32, '32 (a model name must fit)') ??
    DEFAULT_MAX_VALUE_LENGTH
  );
}

/** A whole number from the environment, at least `min` (`minText` says why), or undefined when unset. */
function wholeNumber(env: NodeJS.ProcessEnv, name: string, min: number, minText: string): number | undefined {
  const text = env[name]?.trim();
  if (!text) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min)
    throw new ConfigError(`${name} must be a whole number of at least ${minText}, got "${text}"`);
  return n;
}

function queueLimit(env: NodeJS.ProcessEnv): { maxQueuedCalls?: number } {
  const text = env.TOKENLEDGER_MAX_QUEUED_CALLS?.trim();
  if (!text) return {};
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new ConfigError(`TOKENLEDGER_MAX_QUEUED_CALLS must be a whole number >= 1, got "${text}"`);
  return { maxQueuedCalls: n };
}

/** A whole number of milliseconds from the environment, at least `min` (0 allowed when min is 0). */
function intervalMs(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const text = env[name]?.trim();
  if (!text) return fallback;
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < min)
    throw new ConfigError(`${name} must be an integer >= ${min} (ms), got "${text}"`);
  return ms;
}
