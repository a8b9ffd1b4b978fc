/** A policy file for the alert-rule tests, written to a temp file and loaded by the real loader. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../support/temp-dirs';

export const POLICY_YAML = `version: 1
channels:
  webhook: [https://hooks.example/finops]
  email: [finops@example.com]
policies:
  - name: summarizer-prod
    match: { feature: summarizer, environment: production }
    budget: { usd: 500, period: monthly }
    on_exceeded: block
    alerts: { at: [0.8, 0.9, 1.0], webhook: https://hooks.example/summarizer }
  - name: support-chat
    match: { feature: chat }
    budget: { usd: 200, period: monthly }
    on_exceeded: alert
    alerts: { at: [0.8, 1.0], email: [support-lead@example.com, cfo@example.com] }
  - name: bulk-jobs
    match: { workflow: batch }
    budget: { usd: 5000, period: quarterly }
reconciliation: { alert_below: 0.9 }
`;

export function writePolicyFile(): string {
  const dir = tempDir('tl-dash-policy-');
  const file = path.join(dir, 'tokenledger.policy.yaml');
  writeFileSync(file, POLICY_YAML);
  return file;
}
