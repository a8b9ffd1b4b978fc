/**
 * Every panel of every dashboard, with the plugin's macros expanded (literally, as Grafana sends
 * them, and as query parameters, as the collector runs them), on the embedded ClickHouse engine over
 * the seeded dataset: the numbers must equal those computed independently from the seed.
 */
import assert from 'node:assert/strict';
import {
  DASHBOARDS,
  expandMacros,
  toParameterizedQuery,
  type MacroContext,
} from '../../dashboards/src/index';
import type { Storage } from '../../collector/src/storage/client';
import { columnLabel } from '../../dashboards/src/catalog/labels';
import { freshStorage } from '../support/embedded-storage';
import { assertRows } from './compare';
import { EXPECTED } from './expected';
import { RANGE, seedStorage, type Seed } from './seed';

const SETTINGS = { output_format_json_quote_decimals: 1 } as const;

async function rows(storage: Storage, q: { query: string; query_params?: Record<string, unknown> }) {
  const rs = await storage.client.query({ ...q, format: 'JSONEachRow', clickhouse_settings: SETTINGS });
  return rs.json<Record<string, unknown>>();
}

describe('dashboard panels on the embedded engine', function () {
  this.timeout(120_000);
  let storage: Storage;
  let seed: Seed;

  before(async () => {
    storage = await freshStorage();
    seed = await seedStorage(storage);
  });
  after(async () => storage?.close());

  const contexts = (db: string): [string, MacroContext][] => [
    ['all values', { ...RANGE, intervalSeconds: 21_600, variables: { database: [db] } }],
    [
      'team=search,support, feature=All',
      {
        ...RANGE,
        intervalSeconds: 600,
        variables: { database: [db], team: ['search', 'support'], environment: [], feature: ['$__all'] },
      },
    ],
    [
      'environment=staging, feature=chat, October',
      {
        from: new Date('2026-10-01T00:00:00Z'),
        to: new Date('2026-10-31T23:59:59Z'),
        intervalSeconds: 86_400,
        variables: { database: [db], environment: ['staging'], feature: ['chat'] },
      },
    ],
  ];

  it('has an expectation for every panel', () => {
    const ids = DASHBOARDS.flatMap((d) => d.panels.map((p) => p.id));
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    assert.deepEqual(
      ids.filter((id) => !EXPECTED[id]),
      [],
    );
  });

  for (const dashboard of DASHBOARDS) {
    for (const panel of dashboard.panels) {
      it(`${dashboard.uid} / ${panel.id} returns the seeded numbers`, async () => {
        let nonEmpty = 0;
        for (const [name, ctx] of contexts(storage.database)) {
          const expected = EXPECTED[panel.id]!(seed, ctx);
          if (expected.length > 0) nonEmpty++;
          const literal = await rows(storage, { query: expandMacros(panel.sql, ctx) });
          assertRows(literal, expected, `${panel.id} [${name}] literal`);
          const parameterized = await rows(storage, toParameterizedQuery(panel.sql, ctx));
          assert.deepEqual(parameterized, literal, `${panel.id} [${name}]: parameterized = literal`);
        }
        assert.ok(nonEmpty > 0, `${panel.id}: the seed exercises this panel`);
      });

      it(`${dashboard.uid} / ${panel.id} returns the columns it declares, each with a human label`, async () => {
        const ctx = contexts(storage.database)[0]![1];
        const rs = await storage.client.query({
          ...toParameterizedQuery(panel.sql, ctx),
          format: 'JSONCompact',
        });
        const names = ((await rs.json()) as unknown as { meta: Array<{ name: string }> }).meta.map(
          (m) => m.name,
        );
        assert.deepEqual(names, panel.columns);
        for (const column of names) {
          const label = columnLabel(panel, column);
          assert.ok(label, `${panel.id}: no label for ${column}`);
          assert.doesNotMatch(
            label,
            /^[a-z0-9]+(_[a-z0-9]+)+$/,
            `${panel.id}: ${column}'s label looks like SQL`,
          );
        }
      });
    }
    for (const variable of dashboard.variables) {
      it(`${dashboard.uid} variable ${variable.name} lists the seeded values`, async () => {
        const ctx = contexts(storage.database)[0]![1];
        const got = (await rows(storage, { query: expandMacros(variable.sql, ctx) })).map(
          (r) => Object.values(r)[0],
        );
        const column = variable.name as 'team' | 'environment' | 'feature';
        const want = [...new Set(seed.calls.map((c) => c[column]).filter((v) => v !== ''))].sort();
        assert.deepEqual(got, want);
      });
    }
  }
});
