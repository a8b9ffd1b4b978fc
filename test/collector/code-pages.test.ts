/**
 * Start-up code dropped from the collector's resident memory (collector/src/service/code-pages.ts,
 * decisions 0092, 0097): which mappings qualify, and, in collector processes as users run them, that the
 * resident code shrinks while spans are still stored and reported exactly.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { droppableMappings, parseSmaps } from '../../collector/src/service/code-pages';
import { collectorKey, startCollectorProcess, type CollectorProcess } from '../support/collector-process';
import { protobufBody, recordSpans } from './otlp-helpers';

const NODE = '/usr/bin/node';
const SMAPS = `00400000-00600000 r--p 00000000 fd:01 1001                               ${NODE}
Rss:                2048 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
00600000-02600000 r-xp 00200000 fd:01 1001                               ${NODE}
Rss:               30000 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
02600000-02700000 r--p 02200000 fd:01 1001                               ${NODE}
Rss:                1024 kB
Private_Dirty:      1024 kB
Anonymous:          1024 kB
02700000-02800000 rw-p 02300000 fd:01 1001                               ${NODE}
Rss:                1024 kB
Private_Dirty:      1024 kB
Anonymous:          1024 kB
7f0000000000-7f0010000000 r-xp 01000000 fd:01 2002                       /app/node_modules/@chdb/lib-linux-x64-gnu/libchdb.so
Rss:              140000 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
7f0010000000-7f0010100000 r-xp 00000000 fd:01 2003                       /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                1500 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
7f0011000000-7f0011100000 r-xp 00000000 fd:01 2004                       /usr/bin/node-breakpoint
Rss:                 100 kB
Private_Dirty:         4 kB
Anonymous:             4 kB
7f0012000000-7f0012100000 rw-p 00000000 00:00 0 
Rss:                1024 kB
Private_Dirty:      1024 kB
Anonymous:          1024 kB
`;

function residentFileKb(pid: number): number {
  return Number(/^RssFile:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

async function storeAndReport(collector: CollectorProcess): Promise<string> {
  const ingest = await collectorKey(collector, 'ingest');
  const admin = await collectorKey(collector, 'admin');
  const body = protobufBody(
    recordSpans({ 'service.name': 'billing', 'tokenledger.team': 'search' }, [
      {
        name: 'chat gpt-4o',
        scope: 'tokenledger/openai',
        startTime: new Date(),
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.usage.input_tokens': 1000,
          'gen_ai.usage.output_tokens': 200,
        },
      },
    ]),
  );
  const sent = await fetch(`${collector.url}/v1/traces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ingest}`, 'content-type': 'application/x-protobuf' },
    body,
  });
  assert.equal(sent.status, 200);
  const from = new Date(Date.now() - 86_400_000).toISOString();
  const to = new Date(Date.now() + 86_400_000).toISOString();
  const res = await fetch(`${collector.url}/v1/reports/spend?from=${from}&to=${to}&groupBy=team`, {
    headers: { authorization: `Bearer ${admin}` },
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { total_usd: string }).total_usd;
}

describe('start-up code pages', function () {
  this.timeout(180_000);

  it("drops only clean, read-only private mappings of Node and chdb's library", () => {
    const picked = droppableMappings(parseSmaps(SMAPS), NODE).map((m) => [m.perms, m.path, m.rssKb]);
    assert.deepEqual(picked, [
      ['r--p', NODE, 2048],
      ['r-xp', NODE, 30000],
      ['r-xp', '/app/node_modules/@chdb/lib-linux-x64-gnu/libchdb.so', 140000],
    ]);
  });

  it('a collector holds less code resident after start, and still stores and reports exactly', async function () {
    const dropping = await startCollectorProcess();
    const keeping = await startCollectorProcess({ env: { TOKENLEDGER_DROP_CODE_PAGES: '0' } });
    try {
      assert.match(dropping.output(), /memory: released \d+ MB of start-up code from residence/);
      assert.doesNotMatch(keeping.output(), /memory: released/);
      // The same work in both, after the drop: the engine runs the code it needs again.
      assert.equal(await storeAndReport(dropping), '0.0045');
      assert.equal(await storeAndReport(keeping), '0.0045');
      const dropped = residentFileKb(dropping.child.pid!);
      const kept = residentFileKb(keeping.child.pid!);
      assert.ok(
        dropped < kept - 50 * 1024,
        `file-backed resident ${Math.round(dropped / 1024)} MB with the drop, ${Math.round(kept / 1024)} MB without`,
      );
    } finally {
      assert.equal(await dropping.stop(), 0);
      assert.equal(await keeping.stop(), 0);
    }
  });
});
