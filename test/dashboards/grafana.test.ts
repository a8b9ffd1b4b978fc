/**
 * The generated Grafana dashboards: foundation-SDK dashboards (typed as its Dashboard model) whose
 * every panel has one ClickHouse target with the plugin's v4 query fields, the catalog's SQL, a
 * valid grid position, and only template variables the dashboard defines.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import {
  CLICKHOUSE_PLUGIN_ID,
  CLICKHOUSE_PLUGIN_VERSION,
  DASHBOARDS,
  renderDashboard,
} from '../../dashboards/src/index';

/**
 * The Grafana panel ids as shipped: a link, an alert or an embed that names a panel by id keeps
 * pointing at it. Add a new panel's id here; never change or reuse one.
 */
const SHIPPED_IDS = JSON.parse(
  readFileSync(path.join(__dirname, 'grafana-panel-ids.json'), 'utf8'),
) as Record<string, Record<string, number>>;

const PANEL_TYPES = new Set(['stat', 'timeseries', 'barchart', 'table', 'piechart', 'gauge', 'bargauge']);

describe('Grafana dashboards (foundation SDK)', () => {
  for (const def of DASHBOARDS) {
    describe(def.uid, () => {
      const built: dashboard.Dashboard = renderDashboard(def, {
        datasourceUid: 'ch-uid',
        database: 'tl_prod',
      });
      // What lands in the file: plain JSON (the SDK's variant markers are functions and drop out).
      const json = JSON.parse(JSON.stringify(built)) as Record<string, unknown> & dashboard.Dashboard;

      it('carries the dashboard identity, time range and a schema version', () => {
        assert.equal(json.uid, def.uid);
        assert.equal(json.title, def.title);
        assert.deepEqual(json.time, { from: def.timeFrom, to: def.timeTo });
        assert.ok(Number.isInteger(json.schemaVersion) && json.schemaVersion >= 36);
        assert.deepEqual(json.tags, def.tags);
      });

      it('has one panel per catalog panel, each with a ClickHouse target in the plugin v4 shape', () => {
        const panels = (json.panels ?? []) as dashboard.Panel[];
        assert.equal(panels.length, def.panels.length);
        panels.forEach((panel, i) => {
          const p = def.panels[i]!;
          assert.ok(PANEL_TYPES.has(panel.type), panel.type);
          assert.equal(panel.title, p.title);
          assert.equal(panel.description, p.question);
          assert.deepEqual(panel.datasource, { type: CLICKHOUSE_PLUGIN_ID, uid: 'ch-uid' });
          assert.equal(panel.fieldConfig?.defaults?.unit, p.unit);
          assert.equal(panel.targets?.length, 1);
          assert.deepEqual(panel.targets![0], {
            refId: 'A',
            datasource: { type: CLICKHOUSE_PLUGIN_ID, uid: 'ch-uid' },
            pluginVersion: CLICKHOUSE_PLUGIN_VERSION,
            editorType: 'sql',
            rawSql: p.sql.trim(),
            format: p.format === 'time_series' ? 0 : 1,
            queryType: p.format === 'time_series' ? 'timeseries' : 'table',
          });
        });
      });

      it('gives every panel the id it shipped with, the same on every regeneration', () => {
        const panels = (json.panels ?? []) as dashboard.Panel[];
        assert.deepEqual(
          Object.fromEntries(panels.map((p, i) => [def.panels[i]!.id, p.id])),
          SHIPPED_IDS[def.uid],
        );
        const again = JSON.stringify(renderDashboard(def, { datasourceUid: 'ch-uid', database: 'tl_prod' }));
        assert.equal(again, JSON.stringify(built));
      });

      it('names every column in words and shows coded values as words', () => {
        for (const [i, panel] of ((json.panels ?? []) as dashboard.Panel[]).entries()) {
          const def_ = def.panels[i]!;
          const overrides = panel.fieldConfig?.overrides ?? [];
          assert.deepEqual(
            overrides.map((o) => o.matcher.options),
            def_.columns,
            `${def_.id}: one override per column`,
          );
          for (const o of overrides) {
            const name = o.properties.find((p) => p.id === 'displayName')?.value as string;
            assert.ok(
              name && !/^[a-z0-9]+(_[a-z0-9]+)+$/.test(name),
              `${def_.id}: ${String(o.matcher.options)} → ${name}`,
            );
          }
        }
      });

      it('lays panels out on the 24-column grid without overlaps', () => {
        const boxes = ((json.panels ?? []) as dashboard.Panel[]).map((p) => p.gridPos!);
        for (const b of boxes)
          assert.ok(b.x >= 0 && b.w > 0 && b.x + b.w <= 24 && b.h > 0, JSON.stringify(b));
        for (let i = 0; i < boxes.length; i++)
          for (let j = i + 1; j < boxes.length; j++) {
            const [a, b] = [boxes[i]!, boxes[j]!];
            const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
            assert.ok(!overlap, `panels ${i} and ${j} overlap`);
          }
      });

      it('defines every template variable its SQL uses; multi-selects have the custom all value', () => {
        const vars = json.templating.list ?? [];
        const names = vars.map((v) => v.name);
        const database = vars.find((v) => v.name === 'database')!;
        assert.equal(database.type, 'constant');
        assert.equal(database.query, 'tl_prod');
        for (const v of def.variables) {
          const built = vars.find((x) => x.name === v.name)!;
          assert.equal(built.type, 'query');
          assert.equal(built.query, v.sql);
          assert.deepEqual(built.datasource, { type: CLICKHOUSE_PLUGIN_ID, uid: 'ch-uid' });
          assert.equal(built.multi, true);
          assert.equal(built.includeAll, true);
          assert.equal(built.allValue, "'__all__'");
        }
        const sqls = [...def.panels.map((p) => p.sql), ...def.variables.map((v) => v.sql)];
        for (const sql of sqls)
          for (const m of sql.matchAll(/\$\{(\w+)(?::\w+)?\}/g))
            assert.ok(names.includes(m[1]!), `undefined variable ${m[1]}`);
      });
    });
  }
});
