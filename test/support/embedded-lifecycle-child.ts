/**
 * Child process for embedded-lifecycle.test.ts (libchdb allows one data directory per process, and
 * this closes its engine): close and reopen the same path, then serve ingest from a closed client,
 * then close under a query the engine is still running and open another directory.
 * Prints one JSON line with what it saw.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { KeyRing } from '../../collector/src/govern/keys/keys';
import { Pricer } from '../../collector/src/pricing/pricer';
import { createApp } from '../../collector/src/http/app';
import { CollectorMetrics } from '../../collector/src/http/metrics';
import { openStorage, type Storage } from '../../collector/src/storage/client';
import { migrate } from '../../collector/src/storage/migrations';
import { CallWriter } from '../../collector/src/storage/writer';
import { protobufBody, recordSpans } from '../collector/otlp-helpers';

const count = async (s: Storage): Promise<number> => {
  const rs = await s.client.query({
    query: `SELECT count() AS n FROM ${s.database}.llm_calls`,
    format: 'JSONEachRow',
  });
  return Number((await rs.json<{ n: string }>())[0]!.n);
};

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tl-lifecycle-'));
  const pricer = new Pricer();
  const spans = recordSpans({ 'service.name': 'svc' }, [
    {
      name: 'chat gpt-4o',
      startTime: new Date(),
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.input_tokens': 1000,
        'gen_ai.usage.output_tokens': 200,
      },
    },
  ]);

  const first = openStorage({ dataDir });
  await migrate(first);
  const keys = new KeyRing([{ role: 'ingest', key: 'ingest-key-0123456789' }]);
  const serve = async (storage: Storage) => {
    const app = createApp({
      storage,
      writer: new CallWriter(storage),
      pricer,
      keys,
      metrics: new CollectorMetrics(),
      maxBodyBytes: 1 << 20,
      log: () => undefined,
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const post = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`, {
      method: 'POST',
      headers: { authorization: 'Bearer ingest-key-0123456789', 'content-type': 'application/x-protobuf' },
      body: protobufBody(spans),
    });
    server.close();
    return { status: post.status, retryAfter: post.headers.get('retry-after') };
  };
  const stored = await serve(first);
  const before = await count(first);
  await first.close();
  const closedClient = await serve(first);

  const reopened = openStorage({ dataDir });
  const afterReopen = await count(reopened);
  const migratedAgain = await migrate(reopened);

  // An aborted query rejects at once while the engine goes on computing it (as a health check that
  // outlived its bound does): close() must not return before the engine is done with it.
  const abort = new AbortController();
  const running = reopened.client.query({
    query: 'SELECT max(sipHash64(number)) FROM numbers(30000000)',
    abort_signal: abort.signal,
  });
  abort.abort();
  const abortedQuery = await running.then(
    () => 'finished',
    () => 'rejected',
  );
  await reopened.close();
  // The engine binds one directory per process: another one opens only once the last is released.
  const other = openStorage({ dataDir: mkdtempSync(path.join(tmpdir(), 'tl-lifecycle-other-')) });
  await migrate(other);
  const otherDirAfterClose = await count(other);
  await other.close();
  process.stdout.write(
    JSON.stringify({
      stored,
      before,
      closedClient,
      afterReopen,
      migratedAgain,
      abortedQuery,
      otherDirAfterClose,
    }) + '\n',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(String((err as Error).stack ?? err) + '\n');
  process.exit(1);
});
