/**
 * Every panel once the rollups are sealed (issue 23): the maintainer has built every closed hour of
 * `spend_hourly` and `calls_hourly` and every closed day of `calls_daily`, so the panels read the sealed tables rather than the live tail
 * that panels.test.ts exercises. Each answer must equal the numbers computed from the seed and the
 * panel's raw form — the same SQL with each rollup replaced by the raw calls — on the engine.
 */
import assert from 'node:assert/strict';
import { DASHBOARDS, rawForm, toParameterizedQuery, type MacroContext } from '../../dashboards/src/index';
import type { Storage } from '../../collector/src/storage/client';
import { RollupMaintainer } from '../../collector/src/storage/rollup/maintainer';
import { freshStorage } from '../support/embedded-storage';
import { assertRows } from './compare';
import { EXPECTED } from './expected';
import { RANGE, seedStorage, type Seed } from './seed';

const SETTINGS = { output_format_json_quote_decimals: 1 } as const;

async function rows(storage: Storage, q: { query: string; query_params?: Record<string, unknown> }) {
  const rs = await storage.client.query({ ...q, format: 'JSONEachRow', clickhouse_settings: SETTINGS });
  return rs.json<Record<string, unknown>>();
}

async function count(storage: Storage, table: string): Promise<number> {
  const [r] = await rows(storage, { query: `SELECT count() AS n FROM ${storage.database}.${table}` });
  return Number(r!.n);
}

describe('dashboard panels over sealed rollups', function () {
  this.timeout(180_000);
  let storage: Storage;
  let seed: Seed;

  before(async () => {
    storage = await freshStorage();
    seed = await seedStorage(storage);
    const maintainer = new RollupMaintainer({ storage, log: () => undefined, publishDelayMs: 0 });
    const closed = new Date(Math.floor((Date.now() - 10 * 60_000) / 3_600_000) * 3_600_000).toISOString();
    const closedDay = `${closed.slice(0, 10)}T00:00:00.000Z`;
    while (
      (maintainer.stats.sealedUntil ?? '') < closed ||
      (maintainer.stats.daysSealedUntil ?? '') < closedDay
    )
      await maintainer.round();
    assert.equal(maintainer.stats.followers.calls_hourly, maintainer.stats.sealedUntil);
  });
  after(async () => storage?.close());

  it('sealed every hour of the seed into both rollups', async () => {
    assert.ok((await count(storage, 'spend_hourly_sealed')) > 0);
    assert.ok((await count(storage, 'calls_hourly_sealed')) > 0);
    assert.ok((await count(storage, 'calls_daily_sealed')) > 0);
    // Nothing left for the live tail: every panel below reads sealed rows.
    const [tail] = await rows(storage, {
      query: `SELECT count() AS n FROM ${storage.database}.calls_hourly_raw
              WHERE hour >= (SELECT max(sealed_until) FROM ${storage.database}.rollup_frontiers)`,
    });
    assert.equal(Number(tail!.n), 0);
  });

  const contexts = (db: string): [string, MacroContext][] => [
    ['all values', { ...RANGE, intervalSeconds: 21_600, variables: { database: [db] } }],
    [
      'team=search,support',
      {
        ...RANGE,
        intervalSeconds: 600,
        variables: { database: [db], team: ['search', 'support'], environment: [], feature: ['$__all'] },
      },
    ],
    [
      // Off midnight at both ends: whole days from calls_daily, the hours around them from calls_hourly.
      'mid-day to mid-day',
      {
        from: new Date('2026-11-03T07:20:00Z'),
        to: new Date('2026-11-17T15:45:00Z'),
        intervalSeconds: 3600,
        variables: { database: [db] },
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

  for (const dashboard of DASHBOARDS) {
    for (const panel of dashboard.panels) {
      if (!/\.\w+_hourly\b/.test(panel.sql)) continue;
      it(`${dashboard.uid} / ${panel.id} equals the seed and its raw form`, async () => {
        for (const [name, ctx] of contexts(storage.database)) {
          const sealed = await rows(storage, toParameterizedQuery(panel.sql, ctx));
          assertRows(sealed, EXPECTED[panel.id]!(seed, ctx), `${panel.id} [${name}] sealed`);
          const raw = await rows(storage, toParameterizedQuery(rawForm(panel.sql, { final: true }), ctx));
          assert.deepEqual(sealed, raw, `${panel.id} [${name}]: rollup = raw form`);
        }
      });
    }
  }
});
