/** Collector configuration from the environment, validated with clear messages. */
import path from 'node:path';

export interface CollectorConfig {
  port: number;
  host: string;
  dataDir: string;
  clickhouseUrl?: string;
  apiKeys?: string;
  policyFile: string;
  /** Largest accepted OTLP body, bytes (after inflation). */
  maxBodyBytes: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): CollectorConfig {
  const port = Number(env.PORT ?? '4318');
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError(`PORT must be 0-65535, got "${env.PORT}"`);
  const clickhouseUrl = env.CLICKHOUSE_URL?.trim() || undefined;
  if (clickhouseUrl) {
    let url: URL;
    try {
      url = new URL(clickhouseUrl);
    } catch {
      throw new ConfigError('CLICKHOUSE_URL is not a URL (expected http://user:pass@host:8123/db)');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new ConfigError('CLICKHOUSE_URL must be http(s)://');
  }
  return {
    port,
    host: env.HOST?.trim() || '0.0.0.0',
    dataDir: path.resolve(env.TOKENLEDGER_DATA_DIR?.trim() || '.tokenledger'),
    clickhouseUrl,
    apiKeys: env.TOKENLEDGER_API_KEYS?.trim() || undefined,
    policyFile: path.resolve(env.TOKENLEDGER_POLICY_FILE?.trim() || 'tokenledger.policy.yaml'),
    maxBodyBytes: 16 * 1024 * 1024,
  };
}
