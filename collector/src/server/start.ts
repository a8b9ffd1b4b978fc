/** Starts the collector: storage + migrations, keys, pricing, HTTP server; graceful close. */
import type { AddressInfo } from 'node:net';
import { ensureCredentials, KeyRing, parseKeySpec } from '../auth/keys';
import type { CollectorConfig } from '../config';
import { Pricer } from '../pricing';
import { openStorage, type Storage } from '../storage/client';
import { migrate } from '../storage/migrations';
import { CallWriter } from '../storage/writer';
import { createApp } from './app';
import { CollectorMetrics } from './metrics';

export interface RunningCollector {
  url: string;
  port: number;
  storage: Storage;
  close(): Promise<void>;
}

export async function startCollector(
  config: CollectorConfig,
  log: (line: string) => void = (l) => console.log(l),
): Promise<RunningCollector> {
  const keys = loadKeys(config, log);
  const storage = openStorage({ clickhouseUrl: config.clickhouseUrl, dataDir: config.dataDir });
  try {
    await migrate(storage);
  } catch (err) {
    await storage.close().catch(() => undefined);
    throw err;
  }
  const writer = new CallWriter(storage);
  const metrics = new CollectorMetrics();
  const app = createApp({
    storage,
    writer,
    pricer: new Pricer(),
    keys,
    metrics,
    maxBodyBytes: config.maxBodyBytes,
    log,
  });

  const server = app.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
  const url = `http://${shownHost}:${port}`;
  log(
    `tokenledger collector listening on ${url} (storage: ${storage.embedded ? `embedded ClickHouse in ${config.dataDir}` : 'ClickHouse server'})`,
  );
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    storage,
    close: () =>
      (closing ??= (async () => {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await writer.drain();
        await storage.close();
      })()),
  };
}

function loadKeys(config: CollectorConfig, log: (line: string) => void): KeyRing {
  if (config.apiKeys) return new KeyRing(parseKeySpec(config.apiKeys));
  const { credentials, created, file } = ensureCredentials(config.dataDir);
  log(`${created ? 'created' : 'using'} admin and ingest keys in ${file} (see: npx tokenledger keys show)`);
  return new KeyRing([
    { role: 'admin', key: credentials.admin },
    { role: 'ingest', key: credentials.ingest },
  ]);
}
