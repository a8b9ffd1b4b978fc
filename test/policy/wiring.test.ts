import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../collector/src/service/config';
import { approvalRuleFor } from '../../collector/src/govern/policy/approvals';
import { parsePolicy } from '../../collector/src/govern/policy/load';
import { callMatches, matchCondition } from '../../collector/src/govern/policy/match';
import { pricedCall } from '../support/calls';

describe('policy wiring: configuration, approval rules, selectors', () => {
  it('reads the policy, alert and SMTP settings from the environment', () => {
    const defaults = loadConfig({});
    assert.equal(defaults.policyFileRequired, false);
    assert.match(defaults.policyFile, /tokenledger\.policy\.yaml$/);
    assert.equal(defaults.smtpUrl, undefined);
    const set = loadConfig({
      TOKENLEDGER_POLICY_FILE: 'p.yaml',
      TOKENLEDGER_SMTP_URL: 'smtp://mail:secret@127.0.0.1:2525',
      TOKENLEDGER_ALERT_FROM: 'budgets@example.com',
      TOKENLEDGER_ALERT_CHECK_MS: '500',
      TOKENLEDGER_POLICY_POLL_MS: '0',
      TOKENLEDGER_BUDGET_REFRESH_MS: '5000',
      TOKENLEDGER_RELEASE_CHECK_MS: '2000',
    });
    assert.equal(defaults.releaseCheckMs, 300_000);
    assert.equal(set.releaseCheckMs, 2000);
    assert.equal(defaults.budgetRefreshMs, 60_000);
    assert.equal(set.budgetRefreshMs, 5000);
    assert.throws(() => loadConfig({ TOKENLEDGER_BUDGET_REFRESH_MS: '10' }), /TOKENLEDGER_BUDGET_REFRESH_MS/);
    assert.equal(set.policyFileRequired, true);
    assert.equal(set.smtpUrl, 'smtp://mail:secret@127.0.0.1:2525');
    assert.equal(set.alertFrom, 'budgets@example.com');
    assert.equal(set.alertCheckMs, 500);
    assert.equal(set.policyPollMs, 0);
    assert.throws(() => loadConfig({ TOKENLEDGER_SMTP_URL: 'mail.example.com' }), ConfigError);
    assert.throws(() => loadConfig({ TOKENLEDGER_ALERT_CHECK_MS: '10' }), /TOKENLEDGER_ALERT_CHECK_MS/);
  });

  it('finds the approval rule of a cost center, else a catch-all one', () => {
    const parsed = parsePolicy(`
version: 1
policies:
  - name: no-approval
    match: { cost_center: product:search }
  - name: search-jobs
    match: { cost_center: [product:search, product:ads] }
    approval: { above_usd: 50, approvers: [lead@example.com] }
  - name: everyone-else
    approval: { above_usd: 10, approvers: [finance@example.com] }
`);
    assert.ok(parsed.ok);
    assert.deepEqual(approvalRuleFor(parsed.policy, 'product:ads'), {
      policy: 'search-jobs',
      aboveUsd: 50,
      approvers: ['lead@example.com'],
    });
    assert.equal(approvalRuleFor(parsed.policy, 'product:other')?.policy, 'everyone-else');
    assert.equal(approvalRuleFor(undefined, 'product:ads'), undefined);
  });

  it('translates selectors to parameterised SQL and matches calls in memory alike', () => {
    const match = { team: ['search', "x'); DROP TABLE t; --"], provider: 'OpenAI', model: 'gpt-4o' };
    const raw = matchCondition(match, 'raw', 'c');
    assert.doesNotMatch(raw.sql, /search|DROP|openai/, 'values never enter the SQL text');
    assert.deepEqual(raw.params, { c_team: match.team, c_model: ['gpt-4o'], c_provider: ['openai'] });
    assert.match(raw.sql, /if\(priced_model[^{]*\) IN \{c_model:Array\(String\)\}/);
    assert.equal(matchCondition(undefined, 'rollup').sql, '1');

    const call = pricedCall(
      { provider: 'openai', requestModel: 'gpt-4o-2024-08-06', pricedModel: 'gpt-4o' },
      { team: 'search' },
    );
    assert.equal(callMatches(match, call), true);
    assert.equal(callMatches({ ...match, team: 'ads' }, call), false);
    assert.equal(callMatches(undefined, call), true);
  });
});
