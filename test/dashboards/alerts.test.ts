/**
 * Alert rules as code: the policy file (loaded by the real loader) becomes Grafana alerting
 * file-provisioning YAML (groups, contact points, notification policies) whose ClickHouse queries,
 * macros expanded, run on the embedded engine over the seed and fire exactly when the seed says so.
 */
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { expandMacros, renderGrafanaFiles, type DataSourceSettings } from '../../dashboards/src/index';
import { loadPolicyFile } from '../../collector/src/govern/policy/load';
import type { Storage } from '../../collector/src/storage/client';
import { freshStorage } from '../support/embedded-storage';
import { seedStorage, type Seed, type SeedCall } from './seed';
import { writePolicyFile } from './policy-fixture';

interface FileQuery {
  refId: string;
  relativeTimeRange: { from: number; to: number };
  datasourceUid: string;
  model: Record<string, unknown>;
}
interface FileRule {
  uid: string;
  title: string;
  condition: string;
  data: FileQuery[];
  for: string;
  noDataState: string;
  execErrState: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface FileGroup {
  orgId: number;
  name: string;
  folder: string;
  interval: string;
  rules: FileRule[];
}

const datasource = (database: string): DataSourceSettings => ({
  uid: 'tl-ch',
  name: 'tokenledger ClickHouse',
  host: 'clickhouse',
  port: 8123,
  protocol: 'http',
  secure: false,
  username: 'tokenledger',
  defaultDatabase: database,
  passwordEnv: 'CLICKHOUSE_PASSWORD',
});

const sec = (ms: number): number => Math.floor(ms / 1000);
const hourOf = (c: SeedCall): number => Math.floor(c.at.getTime() / 3_600_000) * 3600;
const sumCost = (cs: SeedCall[]): number => cs.reduce((a, c) => a + Number(c.cost_usd), 0);

/** value per alert instance (label value or '' for a single series), computed from the seed. */
function expectedValues(rule: FileRule, seed: Seed, to: number, minCalls: number): Map<string, number> {
  const kind = rule.labels.tokenledger_alert;
  const out = new Map<string, number>();
  const toS = sec(to);
  if (kind === 'budget-threshold' || kind === 'budget-forecast') {
    const policy = rule.labels.tokenledger_policy!;
    const rows = seed.snapshots.filter((s) => {
      const at = Date.parse(`${s.at.replace(' ', 'T')}Z`);
      return s.policy === policy && at <= toS * 1000 && at > (toS - 7 * 86_400) * 1000;
    });
    if (rows.length === 0) return out;
    const last = rows.reduce((b, s) => (s.at > b.at ? s : b));
    const amount = kind === 'budget-threshold' ? last.spent_usd : last.forecast_usd;
    out.set(policy, Number(amount) / Number(last.limit_usd));
  } else if (kind === 'spend-spike') {
    const lastHour = Math.floor(toS / 3600) * 3600 - 3600;
    const last = sumCost(seed.calls.filter((c) => hourOf(c) === lastHour));
    const prev = sumCost(seed.calls.filter((c) => hourOf(c) === lastHour - 3600));
    out.set('', prev === 0 ? 0 : last / prev);
  } else if (kind === 'error-rate') {
    const window = seed.calls.filter((c) => hourOf(c) >= toS - 3600 && hourOf(c) <= toS);
    for (const service of new Set(window.map((c) => c.service))) {
      const cs = window.filter((c) => c.service === service);
      if (cs.length >= minCalls) out.set(service, cs.filter((c) => c.error_type !== '').length / cs.length);
    }
  } else if (kind === 'unattributed') {
    const cs = seed.calls.filter((c) => hourOf(c) >= toS - 86_400 && hourOf(c) <= toS);
    const total = sumCost(cs);
    out.set('', total === 0 ? 0 : sumCost(cs.filter((c) => c.team === '' && c.cost_center === '')) / total);
  } else if (kind === 'bill-coverage') {
    // Each provider × month's latest run, lines on the UTC days of the 31-day window.
    const latest = new Map<string, { run: string; at: string }>();
    for (const r of seed.runs) {
      const k = `${r.provider} ${r.month}`;
      if (!latest.has(k) || r.computed_at > latest.get(k)!.at)
        latest.set(k, { run: r.run_id, at: r.computed_at });
    }
    const from = new Date((toS - 31 * 86_400) * 1000).toISOString().slice(0, 10);
    const toDay = new Date(toS * 1000).toISOString().slice(0, 10);
    const lines = seed.reconLines.filter(
      (l) =>
        latest.get(`${l.provider} ${l.day.slice(0, 7)}-01`)?.run === l.run_id &&
        l.day >= from &&
        l.day <= toDay,
    );
    for (const provider of new Set(lines.map((l) => l.provider))) {
      const ls = lines.filter((l) => l.provider === provider);
      const billed = ls.reduce((a, l) => a + Number(l.billed_usd), 0);
      if (billed > 0) out.set(provider, ls.reduce((a, l) => a + Number(l.covered_usd), 0) / billed);
    }
  } else assert.fail(`unknown alert kind ${kind}`);
  return out;
}

function fires(rule: FileRule, value: number): boolean {
  const threshold = rule.data.find((d) => d.refId === rule.condition)!.model as {
    conditions: { evaluator: { type: string; params: number[] } }[];
  };
  const { type, params } = threshold.conditions[0]!.evaluator;
  return type === 'gte' ? value >= params[0]! : type === 'lt' ? value < params[0]! : value > params[0]!;
}

describe('alert rules provisioning', function () {
  this.timeout(120_000);
  let storage: Storage;
  let seed: Seed;
  let files: Map<string, string>;
  const MIN_CALLS = 1;

  before(async () => {
    storage = await freshStorage();
    seed = await seedStorage(storage);
    const policy = await loadPolicyFile(writePolicyFile());
    files = renderGrafanaFiles({
      datasource: datasource(storage.database),
      dashboardsPath: '/var/lib/grafana/dashboards',
      policy,
      alerts: { errorMinCalls: MIN_CALLS, spikeRatio: 1.5, unattributedShare: 0.1 },
    });
  });
  after(async () => storage?.close());

  const groups = (): FileGroup[] => {
    const doc = parse(files.get('provisioning/alerting/tokenledger-rules.yaml')!) as {
      apiVersion: number;
      groups: FileGroup[];
    };
    assert.equal(doc.apiVersion, 1);
    return doc.groups;
  };

  it('writes rule groups in the file-provisioning shape (not the HTTP API shape)', () => {
    const gs = groups();
    assert.deepEqual(
      gs.map((g) => g.name),
      ['tokenledger-budgets', 'tokenledger-spend-health'],
    );
    const uids = new Set<string>();
    for (const g of gs) {
      assert.deepEqual(Object.keys(g).sort(), ['folder', 'interval', 'name', 'orgId', 'rules']);
      assert.equal(g.orgId, 1);
      assert.equal(g.folder, 'tokenledger');
      assert.match(g.interval, /^\d+[smh]$/);
      for (const r of g.rules) {
        assert.ok(/^[a-zA-Z0-9_-]{1,40}$/.test(r.uid) && !uids.has(r.uid), r.uid);
        uids.add(r.uid);
        for (const apiOnly of ['folderUID', 'orgID', 'ruleGroup'])
          assert.ok(!(apiOnly in r), `${r.uid} has ${apiOnly}`);
        assert.ok(['OK', 'NoData', 'Alerting', 'KeepLast'].includes(r.noDataState));
        assert.ok(['OK', 'Error', 'Alerting', 'KeepLast'].includes(r.execErrState));
        assert.match(r.for, /^\d+[smh]$/);
        assert.ok(r.annotations.summary);
        const [query, condition] = r.data;
        assert.equal(r.condition, condition!.refId);
        assert.equal(query!.datasourceUid, 'tl-ch');
        assert.ok(query!.relativeTimeRange.from > 0);
        assert.deepEqual(Object.keys(query!.model).sort(), [
          'datasource',
          'editorType',
          'format',
          'pluginVersion',
          'queryType',
          'rawSql',
          'refId',
        ]);
        assert.equal(query!.model.editorType, 'sql');
        assert.equal(condition!.datasourceUid, '__expr__');
        assert.equal(condition!.model.type, 'threshold');
        assert.equal(condition!.model.expression, query!.refId);
      }
    }
    // One rule per alerts.at threshold plus a forecast rule per budgeted policy with thresholds.
    const budgetTitles = gs[0]!.rules.map((r) => r.uid);
    assert.deepEqual(budgetTitles, [
      'tl-budget-summarizer-prod-80',
      'tl-budget-summarizer-prod-90',
      'tl-budget-summarizer-prod-100',
      'tl-forecast-summarizer-prod',
      'tl-budget-support-chat-80',
      'tl-budget-support-chat-100',
      'tl-forecast-support-chat',
      'tl-forecast-bulk-jobs',
    ]);
  });

  it('writes contact points from the channels and each policy’s targets, and a routing tree', () => {
    const cps = parse(files.get('provisioning/alerting/tokenledger-contact-points.yaml')!) as {
      apiVersion: number;
      contactPoints: {
        orgId: number;
        name: string;
        receivers: { uid: string; type: string; settings: Record<string, unknown> }[];
      }[];
    };
    assert.equal(cps.apiVersion, 1);
    const byName = Object.fromEntries(
      cps.contactPoints.map((c) => [c.name, c.receivers.map((r) => [r.type, r.settings])]),
    );
    assert.deepEqual(byName, {
      tokenledger: [
        ['webhook', { url: 'https://hooks.example/finops', httpMethod: 'POST' }],
        ['email', { addresses: 'finops@example.com', singleEmail: true }],
      ],
      'tokenledger-summarizer-prod': [
        ['webhook', { url: 'https://hooks.example/summarizer', httpMethod: 'POST' }],
      ],
      'tokenledger-support-chat': [
        ['email', { addresses: 'support-lead@example.com;cfo@example.com', singleEmail: true }],
      ],
    });
    const tree = parse(files.get('provisioning/alerting/tokenledger-notification-policies.yaml')!) as {
      apiVersion: number;
      policies: {
        orgId: number;
        receiver: string;
        routes: { receiver: string; object_matchers?: string[][]; continue?: boolean }[];
      }[];
    };
    assert.equal(tree.policies.length, 1);
    const root = tree.policies[0]!;
    assert.equal(root.orgId, 1);
    assert.equal(root.receiver, 'tokenledger');
    assert.deepEqual(
      root.routes.map((r) => [r.receiver, r.object_matchers ?? null, r.continue ?? false]),
      [
        ['tokenledger-summarizer-prod', [['tokenledger_policy', '=', 'summarizer-prod']], true],
        ['tokenledger-support-chat', [['tokenledger_policy', '=', 'support-chat']], true],
        ['tokenledger', null, false],
      ],
    );
  });

  it('every rule query runs on the engine and fires exactly when the seed says it should', async () => {
    const rules = groups().flatMap((g) => g.rules);
    const instants = Array.from(
      { length: 24 },
      (_, i) => Date.parse('2026-10-12T00:00:00Z') + i * 43 * 3_600_000 + (i % 5) * 1_337_000,
    );
    // Around the seed's burst (08:00-10:00 on Nov 15) and at the dashboards' range end.
    instants.push(
      Date.parse('2026-11-15T09:20:00Z'),
      Date.parse('2026-11-15T10:05:00Z'),
      Date.parse('2026-11-15T10:40:00Z'),
      Date.parse('2026-11-20T12:30:00Z'),
    );
    const fired = new Set<string>();
    const quiet = new Set<string>();
    for (const to of instants) {
      for (const rule of rules) {
        const query = rule.data[0]!;
        const sql = expandMacros(query.model.rawSql as string, {
          from: new Date(to - query.relativeTimeRange.from * 1000),
          to: new Date(to - query.relativeTimeRange.to * 1000),
          intervalSeconds: 60,
          variables: {},
        });
        const rs = await storage.client.query({ query: sql, format: 'JSONEachRow' });
        const got = new Map(
          (await rs.json<Record<string, unknown>>()).map((row) => {
            const label = Object.entries(row).find(
              ([k, v]) => k !== 'value' && typeof v === 'string',
            )?.[1] as string | undefined;
            return [label ?? '', Number(row.value)] as const;
          }),
        );
        const want = expectedValues(rule, seed, to, MIN_CALLS);
        assert.deepEqual(
          [...got.keys()].sort(),
          [...want.keys()].sort(),
          `${rule.uid} at ${new Date(to).toISOString()}: instances`,
        );
        for (const [instance, value] of want) {
          assert.ok(
            Math.abs(got.get(instance)! - value) <= 1e-9 * Math.max(1, value),
            `${rule.uid} ${instance}: ${got.get(instance)} vs ${value}`,
          );
          (fires(rule, value) ? fired : quiet).add(rule.labels.tokenledger_alert!);
        }
      }
    }
    // The seed exercises both outcomes for every kind of rule.
    for (const kind of [
      'budget-threshold',
      'budget-forecast',
      'spend-spike',
      'error-rate',
      'unattributed',
      'bill-coverage',
    ]) {
      assert.ok(fired.has(kind), `${kind} fires somewhere`);
      assert.ok(quiet.has(kind), `${kind} stays quiet somewhere`);
    }
  });
});
