import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AuditLog } from '../../collector/src/govern/audit';
import { PolicyFileError } from '../../collector/src/govern/policy/load';
import { PolicyStore } from '../../collector/src/govern/policy/store';
import type { Storage } from '../../collector/src/storage/client';
import { freshStorage } from '../support/embedded-storage';
import { tempDir } from '../support/temp-dirs';

const policy = (name: string, usd: number): string =>
  `version: 1\npolicies:\n  - name: ${name}\n    budget: { usd: ${usd}, period: daily }\n`;

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('policy store: hot reload, last good policy, audit', () => {
  let storage: Storage;
  let audit: AuditLog;
  let dir: string;
  before(async () => {
    storage = await freshStorage();
    audit = new AuditLog(storage);
  });
  after(() => storage.close());
  beforeEach(() => {
    dir = tempDir('tl-store-');
  });

  it('reloads a changed file, keeps the last good one when the new one is invalid, audits both', async () => {
    const file = path.join(dir, 'policy.yaml');
    writeFileSync(file, policy('first', 10));
    const logs: string[] = [];
    const store = await PolicyStore.open({
      file,
      required: true,
      log: (l) => logs.push(l),
      audit: (e) => audit.audit(e),
      pollMs: 50,
    });
    const seen: string[] = [];
    store.onChange((l) => seen.push(l!.policy.policies[0]!.name));
    try {
      assert.equal(store.policy!.policies[0]!.name, 'first');
      const firstVersion = store.current!.version;

      // An editor's atomic save: write a temp file, rename it over the original.
      writeFileSync(`${file}.tmp`, policy('second', 20));
      renameSync(`${file}.tmp`, file);
      await until('the reload', () => store.policy?.policies[0]?.name === 'second');
      assert.deepEqual(seen, ['second']);

      writeFileSync(file, 'version: 1\npolicies:\n  - name: third\n    budget: { usd: -5, period: daily }\n');
      await until('the refusal to be logged', () => logs.some((l) => l.includes('not reloaded')));
      assert.equal(store.policy!.policies[0]!.name, 'second', 'the last good policy stays');
      const refusal = logs.find((l) => l.includes('not reloaded'))!;
      assert.match(
        refusal,
        new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:4:20  policies\\[0\\]\\.budget\\.usd`),
      );

      const entries = await audit.recent({ action: 'policy.' });
      const actions = entries.map((e) => e.action).reverse();
      assert.deepEqual(actions, ['policy.loaded', 'policy.reloaded', 'policy.rejected']);
      const reloaded = entries.find((e) => e.action === 'policy.reloaded')!;
      assert.equal(reloaded.details.previous_version, firstVersion);
      assert.deepEqual(reloaded.details.policies, ['second']);
      const rejected = entries.find((e) => e.action === 'policy.rejected')!;
      assert.equal(rejected.details.kept_version, store.current!.version);
      assert.equal((rejected.details.problems as Array<{ path: string }>)[0]!.path, 'policies[0].budget.usd');
    } finally {
      await store.close();
    }
  });

  it('a missing default file means no policies (and picks the file up when it appears)', async () => {
    const file = path.join(dir, 'tokenledger.policy.yaml');
    const logs: string[] = [];
    const store = await PolicyStore.open({ file, required: false, log: (l) => logs.push(l), pollMs: 50 });
    try {
      assert.equal(store.policy, undefined);
      assert.match(logs[0]!, /running without policies/);
      writeFileSync(file, policy('late', 1));
      await until('the new file', () => store.policy?.policies[0]?.name === 'late');
    } finally {
      await store.close();
    }
  });

  it('refuses to open a missing file that was named explicitly, or an invalid one', async () => {
    const missing = path.join(dir, 'nope.yaml');
    await assert.rejects(
      PolicyStore.open({ file: missing, required: true, log: () => undefined, pollMs: 0 }),
      PolicyFileError,
    );
    const invalid = path.join(dir, 'bad.yaml');
    writeFileSync(invalid, 'version: 2\npolicies: []\n');
    await assert.rejects(
      PolicyStore.open({ file: invalid, required: false, log: () => undefined, pollMs: 0 }),
      (err: unknown) => {
        assert.ok(err instanceof PolicyFileError);
        assert.equal(err.problems[0]!.path, 'version');
        return true;
      },
    );
  });
});
