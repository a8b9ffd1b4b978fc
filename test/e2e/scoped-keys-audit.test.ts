/**
 * Keys as an operator uses them: `tokenledger keys create --scope` beside a running collector, an
 * app (`node --require tokenledger/register`, real openai SDK against the fake provider) with a key
 * scoped to one team that attributes calls to another, and the audit log read through the API and
 * `tokenledger audit`. The provider's request log is the ground truth for what was spent.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import {
  collectorKey,
  runCli,
  type CliResult,
  startCollectorProcess,
  tempDataDir,
  type CollectorProcess,
} from '../support/collector-process';
import { eventually, getJson, runApp, writePolicy, type PlanStep } from '../guard/helpers';

const POLICY = `
version: 1
policies:
  - name: search-cap
    match: { team: search }
    budget: { usd: 10, period: monthly }
  - name: billing-cap
    match: { team: billing }
    budget: { usd: 10, period: monthly }
  - name: company-cap
    budget: { usd: 100, period: monthly }
`;

interface AuditEntry {
  at: string;
  actor: string;
  action: string;
  subject: string;
  details: Record<string, unknown>;
}

interface SpendReport {
  total_usd: string;
  breakdown: Array<Record<string, string | number>>;
}

describe('scoped ingest keys and the audit log (CLI, API, a real app)', function () {
  this.timeout(120_000);
  let openai: FakeOpenAI;
  let collector: CollectorProcess;
  let adminKey: string;

  const cli = (args: string[], key?: string): Promise<CliResult> => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TOKENLEDGER_DATA_DIR: collector.dataDir,
      TOKENLEDGER_URL: collector.url,
    };
    if (key) env.TOKENLEDGER_API_KEY = key;
    else delete env.TOKENLEDGER_API_KEY;
    return runCli(args, env);
  };
  const audit = (query = ''): Promise<{ entries: AuditEntry[] }> =>
    getJson(`${collector.url}/v1/audit${query}`, adminKey);

  before(async () => {
    openai = await startFakeOpenAI();
    openai.setUsage({ input: 1000, output: 1000, cached: 0, reasoning: 0 });
    const dir = tempDataDir('tl-scoped-');
    const policyFile = path.join(dir, 'policy.yaml');
    writePolicy(policyFile, POLICY);
    collector = await startCollectorProcess({ dataDir: dir, env: { TOKENLEDGER_POLICY_FILE: policyFile } });
    adminKey = await collectorKey(collector, 'admin');
  });
  after(async () => {
    await collector?.stop();
    await openai?.close();
  });

  it('a key scoped to a team records what it claims for another team under its own, flagged and counted, and warns the app once', async () => {
    const created = await cli([
      'keys',
      'create',
      '--role',
      'ingest',
      '--name',
      'search-app',
      '--scope',
      'team=search',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const searchKey = created.stdout.trim();
    assert.match(searchKey, /^tl_ingest_/);
    const listed = JSON.parse((await cli(['keys', 'list', '--json'])).stdout) as Array<
      Record<string, string>
    >;
    assert.deepEqual(
      listed.map((k) => [k.name, k.role, k.scope]),
      [['search-app', 'ingest', 'team=search']],
    );
    // A scope belongs to ingest keys only.
    const viewerScoped = await cli([
      'keys',
      'create',
      '--role',
      'viewer',
      '--name',
      'v',
      '--scope',
      'team=search',
    ]);
    assert.notEqual(viewerScoped.code, 0);
    assert.match(viewerScoped.stderr, /only ingest keys have a scope/);

    // The collector picks the new key up without a restart.
    const step = (team: string, count: number): PlanStep => ({
      name: team,
      model: 'gpt-4o-mini',
      max_tokens: 100,
      attribution: { team, feature: 'answers' },
      count,
    });
    const env = {
      OPENAI_BASE_URL: openai.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      TOKENLEDGER_API_KEY: searchKey,
    };
    const app = await eventually(async () => {
      openai.reset();
      const r = await runApp([step('search', 2), step('billing', 3)], { env });
      return r.calls.length === 5 && r.calls.every((c) => c.ok) ? r : undefined;
    }, 30_000);
    assert.equal(app.code, 0, app.stderr);
    assert.equal(
      openai.requests.length,
      5,
      'every call reached the provider: the key may spend, under its scope',
    );
    // Warned once, naming the field, the claimed value and where the calls are recorded.
    const warnings = app.stderr
      .split('\n')
      .filter((l) => l.includes('TOKENLEDGER_KEY_SCOPE') || /scope/.test(l));
    assert.equal(warnings.length, 1, app.stderr);
    assert.match(warnings[0]!, /team=billing are recorded under team=search/);

    // Every call is stored (spend never dropped), all under team=search; the 3 claims are kept and flagged.
    const report = await eventually(async () => {
      const r = await getJson<SpendReport>(
        `${collector.url}/v1/reports/spend?period=current_month&groupBy=team`,
        adminKey,
      );
      const calls = r.breakdown.reduce((n, b) => n + Number(b.calls), 0);
      return calls === 5 ? r : undefined;
    });
    assert.deepEqual(
      report.breakdown.map((b) => [b.team, b.calls]),
      [['search', 5]],
    );
    const inventory = await getJson<{
      ingest_keys: Array<{
        key: string;
        scope: string;
        calls: number;
        out_of_scope_calls: number;
        claimed: string[];
      }>;
    }>(`${collector.url}/v1/inventory`, adminKey);
    assert.deepEqual(inventory.ingest_keys, [
      {
        key: 'search-app',
        scope: 'team=search',
        calls: 5,
        spend_usd: inventory.ingest_keys[0]!.spend_usd,
        out_of_scope_calls: 3,
        claimed: ['{"team":"billing"}'],
      },
    ]);
    const metrics = await (
      await fetch(`${collector.url}/metrics`, { headers: { authorization: `Bearer ${adminKey}` } })
    ).text();
    assert.match(metrics, /^tokenledger_calls_out_of_scope_total 3$/m);

    // Business outcomes too: filed under the scope, the claim kept, the reply says so.
    const outcome = await fetch(`${collector.url}/v1/outcomes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${searchKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        outcomes: [{ id: 't-1', feature: 'answers', outcome: 'ticket_resolved', team: 'billing' }],
      }),
    });
    assert.equal(outcome.status, 202);
    const accepted = (await outcome.json()) as { accepted: number; out_of_scope?: number; warning?: string };
    assert.equal(accepted.accepted, 1);
    assert.equal(accepted.out_of_scope, 1);
    assert.match(accepted.warning!, /outside this key's scope \(team=search\)/);

    // It leases only from caps that can match its calls: its team's and the company's, not billing's.
    const budgets = await getJson<{
      policies: Array<{ name: string; budget: { period_start: string } | null }>;
    }>(`${collector.url}/v1/budgets`, searchKey);
    const lease = async (policy: string): Promise<number> => {
      const res = await fetch(`${collector.url}/v1/budgets/leases`, {
        method: 'POST',
        headers: { authorization: `Bearer ${searchKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          policy,
          period_start: budgets.policies.find((p) => p.name === policy)!.budget!.period_start,
          holder: 'probe',
          requested_usd: '0.01',
        }),
      });
      return res.status;
    };
    assert.equal(await lease('billing-cap'), 403);
    assert.equal(await lease('search-cap'), 200);
    assert.equal(await lease('company-cap'), 200);

    // Revoked: refused within a second or so.
    const revoked = await cli(['keys', 'revoke', 'search-app']);
    assert.equal(revoked.code, 0, revoked.stderr);
    await eventually(async () => {
      const res = await fetch(`${collector.url}/v1/budgets`, {
        headers: { authorization: `Bearer ${searchKey}` },
      });
      return res.status === 401 ? true : undefined;
    });
  });

  it('key creation and revocation are in the audit log, read through GET /v1/audit and `tokenledger audit` (admin only)', async () => {
    const created = await cli(['keys', 'create', '--role', 'approver', '--name', 'finance-lead@example.com']);
    assert.equal(created.code, 0, created.stderr);
    const keyEntries = await eventually(async () => {
      const { entries } = await audit('?action=key.');
      return entries.some((e) => e.subject === 'finance-lead@example.com') ? entries : undefined;
    });
    // Newest first: the approver's creation, search-app's revocation, search-app's creation (with its scope).
    assert.deepEqual(
      keyEntries.map((e) => [e.action, e.subject]),
      [
        ['key.created', 'finance-lead@example.com'],
        ['key.revoked', 'search-app'],
        ['key.created', 'search-app'],
      ],
    );
    const searchCreated = keyEntries[2]!;
    assert.equal(searchCreated.details.role, 'ingest');
    assert.equal(searchCreated.details.scope, 'team=search');
    assert.match(searchCreated.actor, /^os:/);
    assert.match(searchCreated.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    // Never a secret or a full digest.
    assert.doesNotMatch(JSON.stringify(keyEntries), /tl_ingest_|tl_approver_|[0-9a-f]{64}/);

    // The policy load is audited too; time and action filters narrow the list.
    const all = (await audit()).entries;
    assert.ok(
      all.some((e) => e.action.startsWith('policy.')),
      JSON.stringify(all),
    );
    const since = (await audit(`?since=${encodeURIComponent(keyEntries[0]!.at)}`)).entries;
    assert.deepEqual(
      since.map((e) => e.subject),
      ['finance-lead@example.com'],
    );
    const bad = await fetch(`${collector.url}/v1/audit?since=yesterday`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /since must be an ISO 8601 time/);

    // Only an admin key reads it.
    const approverKey = created.stdout.trim();
    const refused = await fetch(`${collector.url}/v1/audit`, {
      headers: { authorization: `Bearer ${approverKey}` },
    });
    assert.equal(refused.status, 403);

    // The CLI: the data directory's admin key by default; JSON and a table.
    const json = await cli(['audit', '--action', 'key.', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(
      (JSON.parse(json.stdout) as AuditEntry[]).map((e) => e.action),
      ['key.created', 'key.revoked', 'key.created'],
    );
    const table = await cli(['audit', '--since', keyEntries[0]!.at]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /key\.created.*finance-lead@example\.com/);
    assert.doesNotMatch(table.stdout, /search-app/);
    // With an approver's key in the environment, the refusal names who may read it.
    const denied = await cli(['audit'], approverKey);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /403: an approver key cannot admin: use an admin key/);
  });
});
