/**
 * Key events are audited exactly once across collector restarts (decision 0056): keys made and
 * revoked with `tokenledger keys` beside a running collector, one revoked while it is down and one
 * made just before it is stopped, then the collector restarted several times on the same data
 * directory. `GET /v1/audit` and `tokenledger audit --json` must show each event once.
 */
import assert from 'node:assert/strict';
import {
  collectorKey,
  runCli,
  startCollectorProcess,
  tempDataDir,
  type CliResult,
  type CollectorProcess,
} from '../support/collector-process';
import { eventually, getJson } from '../guard/helpers';

interface AuditEntry {
  action: string;
  subject: string;
  details: { event?: string };
}

const RESTARTS = 3;

describe('key events are audited once across collector restarts', function () {
  this.timeout(240_000);
  const dataDir = tempDataDir('tl-key-audit-');
  let collector: CollectorProcess | undefined;
  let adminKey = '';

  const cli = (args: string[]): Promise<CliResult> => {
    const env: NodeJS.ProcessEnv = { ...process.env, TOKENLEDGER_DATA_DIR: dataDir };
    delete env.TOKENLEDGER_API_KEY;
    if (collector) env.TOKENLEDGER_URL = collector.url;
    return runCli(args, env);
  };
  const keyEntries = async (): Promise<AuditEntry[]> =>
    (await getJson<{ entries: AuditEntry[] }>(`${collector!.url}/v1/audit?action=key.&limit=1000`, adminKey))
      .entries;
  const summary = (entries: AuditEntry[]): string[] =>
    entries.map((e) => `${e.action} ${e.subject}`).sort((a, b) => a.localeCompare(b));
  /** Waits until the audit log holds exactly the expected key events (a second, or a start, after a change). */
  const expectAudited = async (expected: string[]): Promise<AuditEntry[]> => {
    let last: AuditEntry[] = [];
    return eventually(async () => {
      last = await keyEntries();
      return summary(last).join('\n') === [...expected].sort((a, b) => a.localeCompare(b)).join('\n')
        ? last
        : undefined;
    }, 30_000).catch((err: Error) => {
      throw new Error(
        `${err.message}: expected ${JSON.stringify(expected)}, audited ${JSON.stringify(summary(last))}`,
      );
    });
  };
  const mustRun = async (args: string[]): Promise<string> => {
    const r = await cli(args);
    assert.equal(r.code, 0, `tokenledger ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  after(async () => {
    await collector?.stop();
  });

  it('each creation and revocation appears once in GET /v1/audit and `tokenledger audit --json`, however often the collector restarts', async () => {
    collector = await startCollectorProcess({ dataDir });
    adminKey = await collectorKey(collector, 'admin');

    await mustRun(['keys', 'create', '--role', 'ingest', '--name', 'search-app', '--scope', 'team=search']);
    await mustRun(['keys', 'create', '--role', 'viewer', '--name', 'cfo']);
    await mustRun(['keys', 'revoke', 'cfo']);
    const expected = ['key.created search-app', 'key.created cfo', 'key.revoked cfo'];
    await expectAudited(expected);

    for (let i = 0; i < RESTARTS; i++) {
      if (i === 1) {
        // Made just before the stop: the running collector may not have seen it yet.
        await mustRun(['keys', 'create', '--role', 'approver', '--name', 'lead@example.com']);
        expected.push('key.created lead@example.com');
      }
      assert.equal(await collector.stop(), 0, collector.output());
      collector = undefined;
      if (i === 0) {
        // Revoked while the collector is down: audited when it starts.
        await mustRun(['keys', 'revoke', 'search-app']);
        expected.push('key.revoked search-app');
      }
      collector = await startCollectorProcess({ dataDir });
      await expectAudited(expected);
      // A few of the auditor's ticks later, still once each.
      await new Promise((r) => setTimeout(r, 2_500));
      const entries = await expectAudited(expected);
      const ids = entries.map((e) => e.details.event);
      assert.equal(new Set(ids).size, ids.length, `an event audited twice: ${JSON.stringify(ids)}`);
    }

    // The CLI reads the same log: each event once.
    const json = JSON.parse(await mustRun(['audit', '--action', 'key.', '--json'])) as AuditEntry[];
    assert.deepEqual(
      summary(json),
      [...expected].sort((a, b) => a.localeCompare(b)),
    );
  });
});
