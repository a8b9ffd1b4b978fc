import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { POLICY_SCHEMA } from 'tokenledger/policy';
import {
  loadPolicy,
  parsePolicy,
  PolicyFileError,
  type PolicyProblem,
} from '../../collector/src/govern/policy/load';
import { CLI, REPO_ROOT } from '../support/collector-process';
import { tempDir } from '../support/temp-dirs';

const run = promisify(execFile);

function problemsOf(yaml: string): PolicyProblem[] {
  const result = parsePolicy(yaml);
  assert.equal(result.ok, false, 'expected the file to be invalid');
  return result.ok ? [] : result.problems;
}

/** The one problem about `path`, asserting it exists. */
function problemAt(problems: PolicyProblem[], path: string): PolicyProblem {
  const found = problems.filter((p) => p.path === path);
  assert.equal(found.length, 1, `one problem at ${path}, got ${JSON.stringify(problems, null, 2)}`);
  return found[0]!;
}

const lineOf = (yaml: string, needle: string): number =>
  yaml.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('policy file: validation with lines, fields and hints', () => {
  const BAD = [
    'version: 1',
    'fail: opn',
    'policies:',
    '  - name: summarizer-prod',
    '    match: { feature: summarizer, environment: [production] }',
    '    models: { allow: [gpt-4o, gpt-4o-mini] }',
    '    budget: { usd: 500, period: montly, timezone: Europe/Berln }',
    '    on_exceded: block',
    '    on_exceeded: downgrade',
    '    alerts: { at: [0.8, 2, 0], webhook: https://hooks.example/x }',
    '  - name: summarizer-prod',
    '    models: { allow: [gpt-4o] }',
    '    downgrade_to: gpt-3.5',
    '    match: { team: 5 }',
    '',
  ].join('\n');
  const problems = problemsOf(BAD);

  it('names an unknown key where it is written and suggests the closest one', () => {
    const p = problemAt(problems, 'policies[0].on_exceded');
    assert.equal(p.line, lineOf(BAD, 'on_exceded:'));
    assert.equal(p.column, 5);
    assert.match(p.message, /unknown key 'on_exceded'/);
    assert.equal(p.hint, "did you mean 'on_exceeded'?");
  });

  it('lists the allowed values of an enum (and the likely one)', () => {
    const period = problemAt(problems, 'policies[0].budget.period');
    assert.equal(period.line, lineOf(BAD, 'montly'));
    assert.equal(period.column, BAD.split('\n')[period.line - 1]!.indexOf('montly') + 1);
    assert.match(period.hint!, /did you mean 'monthly'\?/);
    assert.match(period.hint!, /daily, weekly, monthly, quarterly/);
    const fail = problemAt(problems, 'fail');
    assert.equal(fail.line, 2);
    assert.match(fail.hint!, /open, closed/);
  });

  it('refuses downgrade without downgrade_to, and a downgrade_to outside models.allow', () => {
    const missing = problemAt(problems, 'policies[0].on_exceeded');
    assert.equal(missing.line, lineOf(BAD, 'on_exceeded: downgrade'));
    assert.match(missing.message, /needs downgrade_to/);
    const outside = problemAt(problems, 'policies[1].downgrade_to');
    assert.equal(outside.line, lineOf(BAD, 'downgrade_to: gpt-3.5'));
    assert.match(outside.message, /not in models\.allow/);
    assert.match(outside.hint!, /gpt-4o/);
  });

  it('keeps alert thresholds within (0, 1.5]', () => {
    assert.match(problemAt(problems, 'policies[0].alerts.at[1]').message, /outside \(0, 1\.5\]/);
    assert.match(problemAt(problems, 'policies[0].alerts.at[2]').message, /outside \(0, 1\.5\]/);
  });

  it('checks IANA time zones against the runtime data', () => {
    const tz = problemAt(problems, 'policies[0].budget.timezone');
    assert.match(tz.message, /not an IANA time zone/);
    assert.equal(tz.hint, "did you mean 'Europe/Berlin'?");
  });

  it('finds duplicate policy names and points at the first one', () => {
    const dup = problemAt(problems, 'policies[1].name');
    assert.equal(dup.line, 11);
    assert.match(dup.message, /duplicate policy name 'summarizer-prod'/);
    assert.match(dup.hint!, /line 4/);
  });

  it('explains a selector of the wrong type once, not once per schema branch', () => {
    const team = problemAt(problems, 'policies[1].match.team');
    assert.match(team.message, /a value or a list of values/);
  });

  it('refuses a 1-hour cache-write price without the other cache-write price', () => {
    const yaml =
      'version: 1\npolicies: []\npricing:\n  overrides:\n    - { model: house-llm, input_mtok: 1, cache_write_1h_mtok: 2 }\n';
    const p = problemAt(problemsOf(yaml), 'pricing.overrides[0].cache_write_1h_mtok');
    assert.equal(p.message, 'cache_write_1h_mtok needs cache_write_mtok');
    assert.equal(p.line, 5);
    assert.match(p.hint ?? '', /5-minute/);
  });

  it('reports YAML syntax errors and duplicate keys with their line', () => {
    const dupKey = problemsOf('version: 1\npolicies: []\npolicies: []\n');
    assert.equal(dupKey[0]!.line, 3);
    assert.match(dupKey[0]!.message, /YAML/);
    const broken = problemsOf('version: 1\npolicies:\n  - name: [unclosed\n');
    assert.ok(broken[0]!.line >= 3, JSON.stringify(broken));
  });

  it('accepts a file that uses every field of the object model', () => {
    const full = `
version: 1
kill_switch: false
fail: closed
attribution: { required: [team, feature, cost_center], on_missing: block }
channels: { webhook: ['https://hooks.example/all'], email: [finops@example.com] }
policies:
  - name: everything
    description: every field once
    match:
      team: [search, ads]
      cost_center: product:search
      department: eng
      feature: summarizer
      workflow: nightly
      environment: production
      service: api
      customer: acme
      model: [gpt-4o, gpt-4o-mini]
      provider: openai
    models: { allow: [gpt-4o, gpt-4o-mini], deny: [o1] }
    budget: { usd: 500.5, period: quarterly, timezone: America/New_York }
    rate_limit: { calls_per_minute: 100, tokens_per_minute: 200000 }
    max_tokens_per_call: 2000
    on_max_tokens: reject
    on_exceeded: downgrade
    downgrade_to: gpt-4o-mini
    alerts: { at: [0.5, 0.8, 1.0, 1.2], webhook: [https://hooks.example/x], email: [a@example.com] }
    approval: { above_usd: 50, approvers: [finance-lead@example.com] }
    disabled: false
pricing:
  overrides:
    - { provider: openai, model: gpt-4o, discount: 0.15 }
    - { model: house-llm, input_mtok: 0.2, output_mtok: 0.6, cache_read_mtok: 0.05, cache_write_mtok: 0.25, cache_write_1h_mtok: 0.4 }
`;
    const result = parsePolicy(full);
    assert.deepEqual(result.ok ? [] : result.problems, []);
    assert.ok(result.ok);
    assert.equal(result.policy.policies[0]!.budget!.timezone, 'America/New_York');
    assert.equal(result.policy.pricing!.overrides![1]!.input_mtok, 0.2);
  });

  it('loadPolicy fingerprints the bytes and throws PolicyFileError for a missing file', async () => {
    const dir = tempDir('tl-policy-');
    const file = path.join(dir, 'p.yaml');
    writeFileSync(file, 'version: 1\npolicies: []\n');
    const loaded = await loadPolicy(file);
    assert.match(loaded.version, /^[0-9a-f]{64}$/);
    writeFileSync(file, 'version: 1\npolicies: [] # changed\n');
    assert.notEqual((await loadPolicy(file)).version, loaded.version);
    await assert.rejects(loadPolicy(path.join(dir, 'absent.yaml')), (err: unknown) => {
      assert.ok(err instanceof PolicyFileError);
      assert.match(err.problems[0]!.message, /file not found/);
      return true;
    });
  });
});

describe('policy templates and published schema', () => {
  const templates = path.join(REPO_ROOT, 'policies', 'templates');

  for (const name of ['chat', 'summarization', 'embeddings', 'bulk-processing']) {
    it(`templates/${name}.yaml is valid`, async () => {
      const loaded = await loadPolicy(path.join(templates, `${name}.yaml`));
      assert.ok(loaded.policy.policies.length > 0);
    });
  }

  it('has no other templates (each one is tested above)', () => {
    assert.deepEqual(readdirSync(templates).sort(), [
      'bulk-processing.yaml',
      'chat.yaml',
      'embeddings.yaml',
      'summarization.yaml',
    ]);
  });

  it('policies/policy.schema.json is the schema the collector validates with', () => {
    const published: unknown = JSON.parse(
      readFileSync(path.join(REPO_ROOT, 'policies', 'policy.schema.json'), 'utf8'),
    );
    assert.deepEqual(
      published,
      JSON.parse(JSON.stringify(POLICY_SCHEMA)),
      'regenerate: tokenledger policy schema > policies/policy.schema.json',
    );
  });
});

describe("policy file: match values and the collector's cap on stored values", () => {
  const long = (n: number): string => 'x'.repeat(n);
  const policy = (match: string): string =>
    [
      'version: 1',
      'policies:',
      '  - name: capped',
      `    match: ${match}`,
      '    budget: { usd: 5, period: daily }',
      '',
    ].join('\n');

  it('refuses a match value longer than the cap, where it is written: a cut call value could never match it', () => {
    const yaml = policy(`{ team: ${long(257)}, customer: [acme, ${long(300)}] }`);
    const problems = problemsOf(yaml);
    const team = problemAt(problems, 'policies[0].match.team');
    assert.equal(team.line, 4);
    assert.match(team.message, /match value is 257 characters, longer than the 256 the collector stores/);
    assert.match(team.hint ?? '', /TOKENLEDGER_MAX_ATTRIBUTE_LENGTH/);
    assert.match(problemAt(problems, 'policies[0].match.customer[1]').message, /300 characters/);
    assert.equal(problems.length, 2);
  });

  it('accepts values up to the cap, counted in characters (an emoji is one), and follows a configured cap', () => {
    assert.equal(parsePolicy(policy(`{ team: ${long(256)} }`)).ok, true);
    assert.equal(parsePolicy(policy(`{ team: "${'💸'.repeat(256)}" }`)).ok, true);
    assert.equal(parsePolicy(policy(`{ team: ${long(100)} }`), { maxValueLength: 64 }).ok, false);
    assert.equal(parsePolicy(policy(`{ team: ${long(300)} }`), { maxValueLength: 1024 }).ok, true);
  });

  it('tokenledger policy check applies TOKENLEDGER_MAX_ATTRIBUTE_LENGTH from the environment', async () => {
    const dir = tempDir('tl-policy-');
    const file = path.join(dir, 'long.yaml');
    writeFileSync(file, policy(`{ team: ${long(300)} }`));
    const refused = await run(process.execPath, [CLI, 'policy', 'check', file]).then(
      () => assert.fail('expected a non-zero exit'),
      (e: { code: number; stdout: string }) => e,
    );
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /:4:\d+ {2}policies\[0\]\.match\.team {2}match value is 300 characters/);
    const env = { ...process.env, TOKENLEDGER_MAX_ATTRIBUTE_LENGTH: '512' };
    assert.match((await run(process.execPath, [CLI, 'policy', 'check', file], { env })).stdout, /valid/);
  });
});

describe('tokenledger policy check (CLI)', () => {
  it('prints every problem as FILE:LINE:COL  field  message  (hint) and exits 1', async () => {
    const dir = tempDir('tl-policy-');
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'version: 1\npolicies:\n  - name: a\n    on_exceeded: stop\n    budgt: { usd: 5, period: daily }\n',
    );
    const err = await run(process.execPath, [CLI, 'policy', 'check', file]).then(
      () => assert.fail('expected a non-zero exit'),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    assert.equal(err.code, 1);
    const lines = err.stdout.trim().split('\n');
    assert.deepEqual(lines, [
      `${file}:4:18  policies[0].on_exceeded  'stop' is not allowed  (allowed: block, alert, downgrade)`,
      `${file}:5:5  policies[0].budgt  unknown key 'budgt'  (did you mean 'budget'?)`,
    ]);
    assert.match(err.stderr, /2 problems/);
  });

  it('prints a summary and exits 0 for a valid file', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'policy', 'check', 'policies/templates/chat.yaml'], {
      cwd: REPO_ROOT,
    });
    assert.match(stdout, /^policies\/templates\/chat\.yaml: valid — 2 policies \(chat-prod, chat-staging\)/);
  });
});
