/**
 * Parquet bills with `CLICKHOUSE_URL`: the collector cannot hand a ClickHouse server its files, so
 * the file goes to the server as an INSERT in FORMAT Parquet into a staging table typed from the
 * file's own schema, is read back and dropped. Through the HTTP stand-in (a real engine behind the
 * HTTP interface `@clickhouse/client` speaks); the same CUR 2.0 export as a Parquet file, costs as
 * Parquet DECIMAL, must import to the same lines as the CSV.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BillImporter } from '../../collector/src/govern/bills/import';
import { readBill } from '../../collector/src/ingest/bills/read';
import { reconcile } from '../../collector/src/read/reconciliation';
import { openStorage, type Storage } from '../../collector/src/storage/client';
import { migrate } from '../../collector/src/storage/migrations';
import { startClickHouseStandIn, type ClickHouseStandIn } from '../support/clickhouse-http/process';
import { freshStorage } from '../support/embedded-storage';
import { tempDir } from '../support/temp-dirs';

const CSV = path.join(__dirname, '..', 'fixtures', 'bills', 'aws-cur2-2026-10.csv');

describe('Parquet bills through a ClickHouse server (CLICKHOUSE_URL)', function () {
  this.timeout(120_000);
  let server: ClickHouseStandIn;
  let storage: Storage;
  let parquet: Buffer;

  before(async () => {
    // The Parquet file, written by the embedded engine from the CSV fixture, costs as DECIMAL.
    const dir = tempDir('tl-cur-pq-');
    const csv = path.join(dir, 'cur.csv');
    const out = path.join(dir, 'cur.parquet');
    writeFileSync(csv, readFileSync(CSV, 'utf8').split('\n').slice(1).join('\n'));
    const local = await freshStorage({ migrate: false });
    try {
      await local.client.command({
        query: `SELECT * REPLACE (toDecimal128OrNull(toString(line_item_unblended_cost), 10) AS line_item_unblended_cost)
                FROM file('${csv}', CSVWithNames, 'identity_line_item_id String, identity_time_interval String, bill_billing_period_start_date String, bill_billing_period_end_date String, line_item_usage_account_id String, line_item_line_item_type String, line_item_usage_start_date String, line_item_usage_end_date String, line_item_product_code String, line_item_usage_type String, line_item_operation String, line_item_usage_amount Nullable(Float64), line_item_currency_code String, line_item_unblended_rate Nullable(Float64), line_item_unblended_cost String, line_item_line_item_description String, product_product_name String, pricing_unit String')
                INTO OUTFILE '${out}' FORMAT Parquet`,
      });
    } finally {
      await local.close();
    }
    parquet = readFileSync(out);
    server = await startClickHouseStandIn();
    storage = openStorage({ clickhouseUrl: `${server.url}/tl_parquet` });
    assert.equal(storage.embedded, false);
    await migrate(storage);
  });

  after(async () => {
    await storage?.close();
    await server?.stop();
  });

  it('imports a CUR 2.0 Parquet file to the same lines as its CSV, leaving no staging table', async () => {
    const r = await new BillImporter(storage).import({
      bytes: parquet,
      fileName: 'cur.parquet',
      importedBy: 'x',
    });
    assert.deepEqual(
      [r.format, r.lines_kept, r.rows_skipped, r.problem_count, r.period_from, r.period_to],
      ['aws-cur', 5, 1, 1, '2026-10-01', '2026-11-01'],
    );
    assert.match(r.problems[0]!.message, /line_item_unblended_cost must be a decimal number/);
    const fromCsv = readBill(readFileSync(CSV));
    const rep = await reconcile(storage, { period: '2026-10', provider: 'aws.bedrock' });
    const aws = rep.providers[0]!;
    assert.deepEqual([aws.billed_usd, aws.credits_usd, aws.other_charges_usd], ['37.5', '-5', '3.6']);
    assert.deepEqual(
      fromCsv.lines.map((l) => l.amount).sort(),
      ['-5', '15', '2.5', '20', '3.6'],
      'the CSV reads the same amounts',
    );
    const rs = await storage.client.query({
      query: `SELECT count() AS n FROM system.tables WHERE database = 'tl_parquet' AND name LIKE 'bill_parquet_%'`,
      format: 'JSONEachRow',
    });
    assert.deepEqual(await rs.json(), [{ n: 0 }]);
  });

  it('refuses a file that only looks like Parquet, with a clear error', async () => {
    await assert.rejects(
      new BillImporter(storage).import({
        bytes: Buffer.from('PAR1 this is not a parquet file PAR1'),
        fileName: 'broken.parquet',
        importedBy: 'x',
      }),
      /not a readable Parquet file/,
    );
  });
});
