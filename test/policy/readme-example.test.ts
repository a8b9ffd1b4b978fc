/** The policy example docs/POLICY.md shows is a valid policy file, with the meaning the page gives it. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadPolicyFile } from '../../collector/src/govern/policy/load';
import { REPO_ROOT } from '../support/collector-process';
import { tempDir } from '../support/temp-dirs';

describe('the policy example in docs/POLICY.md', () => {
  it('validates and says what the page says', async () => {
    const page = readFileSync(path.join(REPO_ROOT, 'docs', 'POLICY.md'), 'utf8');
    const match = /```yaml\n(# yaml-language-server[\s\S]*?)```/.exec(page);
    assert.ok(match, 'docs/POLICY.md has the policy example');
    const file = path.join(tempDir('tl-readme-'), 'tokenledger.policy.yaml');
    writeFileSync(file, match[1]!);
    const policy = await loadPolicyFile(file);
    assert.equal(policy.fail, 'open');
    assert.deepEqual(policy.attribution?.required, ['team', 'feature']);
    const [summarizer, experiments] = policy.policies;
    assert.equal(summarizer?.budget?.usd, 500);
    assert.equal(summarizer?.on_exceeded, 'downgrade');
    assert.equal(summarizer?.downgrade_to, 'gpt-4o-mini');
    assert.equal(experiments?.disabled, true);
    assert.equal(policy.pricing?.overrides?.length, 2);
  });
});
