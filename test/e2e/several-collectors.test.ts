/**
 * Several collectors on one store (issue 26): three collector processes share one ClickHouse
 * through `CLICKHOUSE_URL` — the HTTP stand-in (test support: chdb behind ClickHouse's HTTP
 * interface, statements running at the same time, inserts held 40 ms to widen races) — behind a
 * "load balancer" that sends every export to one collector and its retry to another while the
 * first may still be writing it. Every collector then reports the same, exact totals: each span
 * once, whichever collector stored it — the raw calls at once, whole hours within the rollup's 60 s.
 * And a budget alert that all three see crossing its threshold is sent once.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Decimal from 'decimal.js';
import { startCollectorProcess, tempDataDir, type CollectorProcess } from '../support/collector-process';
import { startClickHouseStandIn, type ClickHouseStandIn } from '../support/clickhouse-http/process';

const KEY = 'tl_admin_several_collectors_0001';
const APPROVERS = { alice: 'tl_approver_alice_several_0001', bob: 'tl_approver_bob_several_00001' };
const HOUR = 3_600_000;
const BATCHES = 30;
const SPANS_PER_BATCH = 40;

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

interface Batch {
  body: string;
  usd: Decimal;
}

/** An OTLP/JSON export of house-llm calls ($1 per 1,000 input tokens by the policy's price). */
function batch(b: number, at: number, opts: { team?: string; spans?: number; tokens?: number } = {}): Batch {
  let usd = new Decimal(0);
  const spans = Array.from({ length: opts.spans ?? SPANS_PER_BATCH }, (_, i) => {
    const tokens = opts.tokens ?? 1_000 + ((b * 37 + i * 11) % 900);
    usd = usd.plus(new Decimal(tokens).div(1_000));
    const start = at + b * 1_000 + i;
    return {
      traceId: hex(b * 1_000 + i + 1, 32),
      spanId: hex(b * 1_000 + i + 1, 16),
      name: 'chat house-llm',
      kind: 3,
      startTimeUnixNano: `${start}000000`,
      endTimeUnixNano: `${start + 500}000000`,
      attributes: [
        { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
        { key: 'gen_ai.provider.name', value: { stringValue: 'vllm' } },
        { key: 'gen_ai.request.model', value: { stringValue: 'house-llm' } },
        { key: 'gen_ai.usage.input_tokens', value: { intValue: String(tokens) } },
        { key: 'gen_ai.usage.output_tokens', value: { intValue: '0' } },
      ],
      status: {},
    };
  });
  const body = JSON.stringify({
    resourceSpans: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: { stringValue: 'batch-scorer' } },
            {
              key: 'tokenledger.team',
              value: { stringValue: opts.team ?? (b % 2 === 0 ? 'search' : 'ads') },
            },
          ],
        },
        scopeSpans: [{ scope: { name: 'tokenledger' }, spans }],
      },
    ],
  });
  return { body, usd };
}

async function post(collector: CollectorProcess, body: string): Promise<number> {
  const res = await fetch(`${collector.url}/v1/traces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

/** Sends until acknowledged (an exporter's retries), starting with `first`, then the next ones. */
async function sendUntilAcked(collectors: CollectorProcess[], first: number, body: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const status = await post(collectors[(first + attempt) % collectors.length]!, body);
    if (status !== 200 && status !== 503) throw new Error(`export answered ${status}`);
    if (status === 200) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  const out = collectors.map((c) => c.output().split('\n').slice(-15).join('\n')).join('\n---\n');
  throw new Error(`export never acknowledged:\n${out}`);
}

async function report(collector: CollectorProcess, from: number, to: number): Promise<string> {
  const q = new URLSearchParams({
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    groupBy: 'team',
  });
  const res = await fetch(`${collector.url}/v1/reports/spend?${q}`, {
    headers: { authorization: `Bearer ${KEY}` },
  });
  assert.equal(res.status, 200);
  const r = (await res.json()) as { total_usd: string; breakdown: Array<{ team: string; calls: number }> };
  const calls = r.breakdown.reduce((n, b) => n + b.calls, 0);
  return `${calls} calls $${r.total_usd}`;
}

describe('three collectors on one ClickHouse (HTTP stand-in)', function () {
  this.timeout(240_000);
  let store: ClickHouseStandIn;
  const collectors: CollectorProcess[] = [];
  let webhook: Server;
  const alerts: string[] = [];

  before(async () => {
    store = await startClickHouseStandIn({ sessions: 6, delayInsertMs: 40 });
    // A slow webhook (1 s per delivery): without one sender per alert, every collector that checks
    // while another is still sending would send too.
    webhook = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        alerts.push(body);
        setTimeout(() => res.end('ok'), 1_000);
      });
    });
    await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
    const hook = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hooks/budget`;
    const policy = path.join(tempDataDir('tl-multi-policy-'), 'tokenledger.yaml');
    writeFileSync(
      policy,
      [
        'version: 1',
        'policies:',
        '  - name: ads-budget',
        '    match: { team: ads }',
        '    budget: { usd: 100000, period: monthly }',
        '    alerts:',
        '      at: [0.8]',
        `      webhook: ${hook}`,
        'pricing:',
        '  overrides: [{ model: house-llm, input_mtok: 1000 }]',
        '',
      ].join('\n'),
    );
    // One at a time, as a rollout does: the first applies the migrations.
    for (let i = 0; i < 3; i++) {
      collectors.push(
        await startCollectorProcess({
          env: {
            CLICKHOUSE_URL: `${store.url}/tokenledger`,
            TOKENLEDGER_API_KEYS: `admin:${KEY},approver/alice:${APPROVERS.alice},approver/bob:${APPROVERS.bob}`,
            TOKENLEDGER_POLICY_FILE: policy,
            TOKENLEDGER_ALERT_CHECK_MS: '100',
          },
        }),
      );
    }
  });

  after(async () => {
    for (const c of collectors) await c.stop();
    await store?.stop();
    webhook?.close();
  });

  it('each span once whichever collector stores it, a retry landing on another while the first still writes', async () => {
    // Two hours ago: whole hours that the rollup seals, and the raw calls beside them.
    const at = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR + 60_000;
    const batches = Array.from({ length: BATCHES }, (_, b) => batch(b, at));
    const expected = batches.reduce((sum, b) => sum.plus(b.usd), new Decimal(0));
    // Every export goes to collector b % 3 and, at the same time, its "retry" to the next one.
    await Promise.all(
      batches.flatMap((b, i) => [
        sendUntilAcked(collectors, i % 3, b.body),
        sendUntilAcked(collectors, (i + 1) % 3, b.body),
      ]),
    );
    const want = `${BATCHES * SPANS_PER_BATCH} calls $${expected.toFixed()}`;
    const from = Math.floor(at / HOUR) * HOUR - HOUR;
    const to = Math.floor(Date.now() / HOUR) * HOUR + HOUR;
    // Raw calls at once; whole hours — sealed hours that the late writes went into — once the
    // rollup has rebuilt them, which the collectors promise within 60 s (STORAGE.md).
    for (const c of collectors)
      assert.equal(await report(c, from + 1, to), want, `raw calls through ${c.url}`);
    const deadline = Date.now() + 60_000;
    for (const c of collectors) {
      let got = await report(c, from, to);
      while (got !== want && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1_000));
        got = await report(c, from, to);
      }
      assert.equal(got, want, `whole hours through ${c.url}`);
    }
  });

  it('a threshold all three collectors see crossed is sent once', async () => {
    // $80,000 of the ads team's $100,000 in one export, received by one collector; all three check
    // the budget every 100 ms against the shared store.
    const big = batch(900, Date.now() - 60_000, { team: 'ads', spans: 8, tokens: 10_000_000 });
    assert.equal(big.usd.toFixed(), '80000');
    await sendUntilAcked(collectors, 0, big.body);
    const deadline = Date.now() + 30_000;
    while (alerts.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    // Every collector has had many checks (and the first delivery has long finished) by now.
    await new Promise((r) => setTimeout(r, 5_000));
    assert.equal(alerts.length, 1, alerts.join('\n'));
    assert.match(alerts[0]!, /ads-budget/);
  });

  it('two approvers deciding at once on two collectors: one decision stands, the other is told so', async () => {
    const api = (c: CollectorProcess, key: string, route: string, body?: unknown) =>
      fetch(`${c.url}${route}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    for (let i = 0; i < 4; i++) {
      const created = await api(collectors[2]!, KEY, '/v1/approvals', {
        job: `backfill-${i}`,
        estimated_cost_usd: '120',
        cost_center: 'data',
        justification: 'a year of summaries',
      });
      assert.equal(created.status, 201, await created.clone().text());
      const { id } = (await created.json()) as { id: string };
      // Alice approves on collector 0 while Bob rejects on collector 1.
      const answers = await Promise.all([
        api(collectors[0]!, APPROVERS.alice, `/v1/approvals/${id}/decision`, { decision: 'approve' }),
        api(collectors[1]!, APPROVERS.bob, `/v1/approvals/${id}/decision`, { decision: 'reject' }),
      ]);
      const statuses = answers.map((a) => a.status).sort();
      assert.deepEqual(statuses, [200, 409], `approval ${i}: ${statuses.join(', ')}`);
      const winner =
        answers[0]!.status === 200 ? { status: 'approved', by: 'alice' } : { status: 'rejected', by: 'bob' };
      for (const c of collectors) {
        const shown = (await (await api(c, KEY, `/v1/approvals/${id}`)).json()) as {
          status: string;
          decided_by: string;
        };
        assert.deepEqual([shown.status, shown.decided_by], [winner.status, winner.by]);
      }
    }
  });
});
