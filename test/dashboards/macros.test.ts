/**
 * expandMacros renders exactly what the Grafana ClickHouse plugin (pkg/macros) and Grafana's
 * template variables produce; toParameterizedQuery carries the same values as query parameters, and
 * both select the same rows on the engine, quotes in values included.
 */
import assert from 'node:assert/strict';
import { expandMacros, toParameterizedQuery, type MacroContext } from '../../dashboards/src/index';
import type { Storage } from '../../collector/src/storage/client';
import { freshStorage } from '../support/embedded-storage';

const CTX: MacroContext = {
  from: new Date('2026-11-01T00:00:00.250Z'),
  to: new Date('2026-11-20T12:30:45.999Z'),
  intervalSeconds: 59.9,
  variables: { team: ['search', "o'brien"], feature: ['$__all'], environment: [], database: ['tl_db'] },
};

describe('Grafana ClickHouse macros', () => {
  it('expands the time macros as the plugin does (whole seconds, milliseconds, interval floor)', () => {
    assert.equal(
      expandMacros('WHERE $__timeFilter(start_time) AND t < $__toTime AND t > $__fromTime', CTX),
      'WHERE start_time >= toDateTime(1793491200) AND start_time <= toDateTime(1795177845) AND t < toDateTime(1795177845) AND t > toDateTime(1793491200)',
    );
    assert.equal(
      expandMacros('$__timeFilter_ms(at) $__fromTime_ms $__toTime_ms', CTX),
      'at >= fromUnixTimestamp64Milli(1793491200250) AND at <= fromUnixTimestamp64Milli(1795177845999) fromUnixTimestamp64Milli(1793491200250) fromUnixTimestamp64Milli(1795177845999)',
    );
    assert.equal(expandMacros('$__interval_s', CTX), '59');
    assert.equal(expandMacros('$__interval_s', { ...CTX, intervalSeconds: 0.2 }), '1');
    assert.equal(
      expandMacros('$__timeInterval(hour)', CTX),
      'toStartOfInterval(toDateTime(hour), INTERVAL 59 second)',
    );
    assert.throws(() => expandMacros('$__timeFilter()', CTX), /expected 1 argument/);
  });

  it('expands ${var:singlequote} as Grafana does, and All to the custom all value', () => {
    assert.equal(expandMacros('IN (${team:singlequote})', CTX), "IN ('search','o\\'brien')");
    assert.equal(expandMacros('IN (${feature:singlequote})', CTX), "IN ('__all__')");
    assert.equal(expandMacros('IN (${environment:singlequote})', CTX), "IN ('__all__')");
    assert.equal(expandMacros('FROM ${database}.llm_calls', CTX), 'FROM tl_db.llm_calls');
    assert.equal(expandMacros('FROM ${database}.x', { ...CTX, variables: {} }), 'FROM tokenledger.x');
    assert.throws(
      () => expandMacros('${database}', { ...CTX, variables: { database: ['x; DROP'] } }),
      /invalid database/,
    );
  });

  it('parameterizes every value and leaves no user input in the SQL text', () => {
    const sql =
      'SELECT 1 FROM ${database}.t WHERE $__timeFilter(hour) AND team IN (${team:singlequote}) AND x = $__interval_s';
    const { query, query_params } = toParameterizedQuery(sql, CTX);
    assert.equal(
      query,
      'SELECT 1 FROM {database:Identifier}.t WHERE hour >= toDateTime({tl_from:Int64}) AND hour <= toDateTime({tl_to:Int64}) AND team IN {var_team:Array(String)} AND x = {tl_interval_s:UInt32}',
    );
    assert.deepEqual(query_params, {
      database: 'tl_db',
      tl_from: 1793491200,
      tl_to: 1795177845,
      var_team: ['search', "o'brien"],
      tl_interval_s: 59,
    });
    assert.throws(() => toParameterizedQuery('x = ${team:singlequote}', CTX), /must appear as IN/);
  });

  describe('on the engine', () => {
    let storage: Storage;
    before(async () => {
      storage = await freshStorage({ migrate: false });
    });
    after(async () => storage?.close());

    const run = async (q: { query: string; query_params?: Record<string, unknown> }) =>
      (await (await storage.client.query({ ...q, format: 'JSONEachRow' })).json<{ v: string }>()).map(
        (r) => r.v,
      );

    it('literal and parameterized queries select the same rows, with quotes and All', async () => {
      const sql =
        "SELECT v FROM (SELECT arrayJoin(['search', 'o''brien', 'support', '']) AS v) WHERE ('__all__' IN (${team:singlequote}) OR v IN (${team:singlequote})) ORDER BY v";
      for (const team of [['search', "o'brien"], ['$__all'], [], ['nobody']]) {
        const ctx = { ...CTX, variables: { team } };
        const literal = await run({ query: expandMacros(sql, ctx) });
        assert.deepEqual(await run(toParameterizedQuery(sql, ctx)), literal);
        const all = team.length === 0 || team[0] === '$__all';
        assert.deepEqual(
          literal,
          all ? ['', "o'brien", 'search', 'support'] : team.filter((t) => t !== 'nobody').sort(),
        );
      }
    });
  });
});
