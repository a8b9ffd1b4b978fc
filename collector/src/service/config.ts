/**
 * Collector configuration from the environment, validated with clear messages.
 *
 * HOST defaults to 127.0.0.1, as the OpenTelemetry Collector's OTLP receiver does: a fresh
 * `npm start` is not reachable from the network (with first-run keys on disk) until someone
 * decides so with HOST=0.0.0.0 (as a container must).
 */
import { isIP } from 'node:net';
import path from 'node:path';
import { KeyConfigError, parseKeySpec, type KeySpec } from '../govern/keys/keys';
import { assertIdentifier, DEFAULT_DATABASE } from '../storage/client';

export interface CollectorConfig {
  port: number;
  host: string;
  dataDir: string;
  clickhouseUrl?: string;
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
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

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

  const policyPollMs = intervalMs(env, 'TOKENLEDGER_POLICY_POLL_MS', 1000, 0);
  const alertCheckMs = intervalMs(env, 'TOKENLEDGER_ALERT_CHECK_MS', 10_000, 100);
  const budgetRefreshMs = intervalMs(env, 'TOKENLEDGER_BUDGET_REFRESH_MS', 60_000, 1000);
  const releaseCheckMs = intervalMs(env, 'TOKENLEDGER_RELEASE_CHECK_MS', 300_000, 1000);
  const reconcileMs = intervalMs(env, 'TOKENLEDGER_RECONCILE_MS', 900_000, 0);
  const smtpUrl = env.TOKENLEDGER_SMTP_URL?.trim() || undefined;
  if (smtpUrl && !/^smtps?:\/\//.test(smtpUrl))
    throw new ConfigError('TOKENLEDGER_SMTP_URL must be smtp://[user:pass@]host:port or smtps://…');

  return {
    port,
    host,
    dataDir: path.resolve(env.TOKENLEDGER_DATA_DIR?.trim() || '.tokenledger'),
    clickhouseUrl,
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
  };
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
